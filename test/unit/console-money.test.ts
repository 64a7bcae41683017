import { expect } from 'chai';
import { QUOTA_PER_USD as SERVER_QUOTA_PER_USD } from '../../lib/billing/price-book.js';
import { formatUsd, QUOTA_PER_USD, unitsToUsd, usdToUnits } from '../../web/src/money.js';

describe('console money units', () => {
  it('uses the server’s quota units per dollar', () => {
    expect(QUOTA_PER_USD).to.equal(SERVER_QUOTA_PER_USD);
  });

  it('turns dollars into whole quota units and back', () => {
    expect(usdToUnits(2)).to.equal(1_000_000);
    expect(usdToUnits(0.00006)).to.equal(30);
    expect(usdToUnits(0.0000013)).to.equal(1);
    expect(unitsToUsd(30)).to.be.closeTo(0.00006, 1e-12);
  });

  it('shows every unit in dollars, without trailing zeros', () => {
    expect(formatUsd(30)).to.equal('$0.00006');
    expect(formatUsd(1)).to.equal('$0.000002');
    expect(formatUsd(1_000_000)).to.equal('$2');
    expect(formatUsd(750_000)).to.equal('$1.5');
    expect(formatUsd(0)).to.equal('$0');
    expect(formatUsd(null)).to.equal('—');
    expect(formatUsd(30, 4)).to.equal('$0.0001');
  });
});
