import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from 'react';
import { api, ApiError, setCsrfToken, setUnauthorizedHandler, type User } from './api';

interface Auth {
  /** undefined while the session is being checked, null when signed out. */
  user: User | null | undefined;
  signIn(body: { username: string; password: string } | { access_token: string }): Promise<void>;
  signOut(): Promise<void>;
  isAdmin: boolean;
}

const AuthContext = createContext<Auth | null>(null);

interface SessionAnswer {
  user: User;
  csrf_token: string;
}

export function AuthProvider({ children }: { children: ReactNode }) {
  const [user, setUser] = useState<User | null | undefined>(undefined);

  useEffect(() => {
    setUnauthorizedHandler(() => {
      setCsrfToken(null);
      setUser(null);
    });
    api<SessionAnswer>('GET', '/api/auth/me', undefined, { quiet401: true })
      .then((s) => {
        setCsrfToken(s.csrf_token);
        setUser(s.user);
      })
      .catch((err: unknown) => {
        if (!(err instanceof ApiError) || err.status !== 401) console.error(err);
        setUser(null);
      });
  }, []);

  const signIn = useCallback(
    async (body: { username: string; password: string } | { access_token: string }) => {
      const s = await api<SessionAnswer>('POST', '/api/auth/login', body, { quiet401: true });
      setCsrfToken(s.csrf_token);
      setUser(s.user);
    },
    [],
  );

  const signOut = useCallback(async () => {
    try {
      await api('POST', '/api/auth/logout', {}, { quiet401: true });
    } finally {
      setCsrfToken(null);
      setUser(null);
    }
  }, []);

  const isAdmin = user?.role === 'admin' || user?.role === 'root';
  return <AuthContext.Provider value={{ user, signIn, signOut, isAdmin }}>{children}</AuthContext.Provider>;
}

export function useAuth(): Auth {
  const v = useContext(AuthContext);
  if (!v) throw new Error('useAuth outside AuthProvider');
  return v;
}
