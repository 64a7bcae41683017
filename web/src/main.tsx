import './styles';
import { createTheme, MantineProvider, Modal } from '@mantine/core';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { AuthProvider } from './auth';
import { I18nProvider } from './i18n';

// The same theme as theme.css (which the page uses); components read colours from here too.
// System fonts only: the console loads nothing from outside the gateway.
const theme = createTheme({
  primaryColor: 'indigo',
  primaryShade: 8,
  // A modal's scroll lock writes a <style> element (the CSP allows none): the page may scroll behind it.
  components: {
    Modal: Modal.extend({ defaultProps: { lockScroll: false } }),
    ModalRoot: Modal.Root.extend({ defaultProps: { lockScroll: false } }),
  },
});

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    {/* No generated <style> elements (the CSP allows none): theme.css holds the theme's variables. */}
    <MantineProvider
      theme={theme}
      defaultColorScheme="light"
      withCssVariables={false}
      withGlobalClasses={false}
    >
      <I18nProvider>
        <AuthProvider>
          <App />
        </AuthProvider>
      </I18nProvider>
    </MantineProvider>
  </StrictMode>,
);
