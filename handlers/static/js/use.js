// How donations were used (捐赠款物使用情况), for the transparency page: money received, paid out per
// purpose and left, per currency and per fund (earmark); goods received and where they went; people
// reached; and the ledger's signed head, which anyone can keep and later check the history against.
import { t, tEnum, fmtMoney, fmtNumber, fmtQty, fmtTime, getLang } from './i18n.js';
import { h, table } from './dom.js';
import { regionLabel } from './region_picker.js';

/** A fund named for people: unearmarked money, or an earmark's purpose (and region prefix). */
export function fundLabel(earmark) {
  if (!earmark || !earmark.purpose) return t('use.unearmarked');
  const purpose = tEnum('purpose', earmark.purpose);
  if (!earmark.region) return t('use.earmarked', { purpose });
  // The region's name (lang=zh) beside its code, where the sentence puts the region.
  const [before, after] = t('use.earmarkedIn', { purpose, region: '\u0000' }).split('\u0000');
  return h('span', { class: 'fund-label' }, before, regionLabel(earmark.region, earmark.region_name), after);
}

/** The same as text, for a select's option, whose text has one language: the name only in the Chinese console. */
export function fundText(earmark) {
  if (!earmark || !earmark.purpose || !earmark.region) return fundLabel(earmark);
  const region = getLang() === 'zh' && earmark.region_name ? `${earmark.region_name} ${earmark.region}` : earmark.region;
  return t('use.earmarkedIn', { purpose: tEnum('purpose', earmark.purpose), region });
}

function stats(pairs, cls = 'stats') {
  return h('dl', { class: cls }, pairs.map(([label, value]) => h('div', {},
    h('dt', { text: label }), h('dd', {}, value))));
}

function card(title, ...body) {
  return h('section', { class: 'card', 'aria-label': title }, h('h3', { text: title }), body);
}

function money(m) {
  const amount = (v) => fmtMoney(v, m.currency);
  const purposes = Object.entries(m.paid_by_purpose);
  return card(t('use.money', { currency: m.currency }),
    stats([[t('use.received'), amount(m.received)], [t('use.paid'), amount(m.paid)], [t('use.balance'), amount(m.balance)]],
      'stats totals'),
    h('div', { class: 'use-tables' },
      purposes.length
        ? table(t('use.byPurposeCaption', { currency: m.currency }), [t('use.purpose'), t('use.paid')],
          purposes.map(([purpose, value]) => [tEnum('purpose', purpose), amount(value)]))
        : h('p', { class: 'empty', text: t('use.nothingPaid') }),
      m.funds.length > 0 && table(t('use.fundsCaption', { currency: m.currency }),
        [t('use.fund'), t('use.received'), t('use.paid'), t('use.balance')],
        m.funds.map((f) => [fundLabel(f), amount(f.received), amount(f.paid), amount(f.balance)]))));
}

function goods(use) {
  return card(t('use.goods'),
    h('p', { class: 'big' }, h('span', { class: 'big-number', text: fmtNumber(use.people_reached) }),
      h('span', { text: t('use.peopleText') })),
    table(t('use.goodsCaption'), [
      t('use.item'), t('use.goodsReceived'), t('use.distributed'), t('use.writtenOff'), t('use.inTransit'),
      t('use.onHand'), t('use.peopleReached'),
    ], use.goods.map((g) => [
      tEnum('item', g.item), fmtQty(g.received, g.unit), fmtQty(g.distributed, g.unit), fmtQty(g.written_off, g.unit),
      fmtQty(g.in_transit, g.unit), fmtQty(g.on_hand, g.unit), fmtNumber(g.people_reached),
    ]), { empty: t('use.noGoods') }));
}

function shortHash(hash) {
  return hash.length > 20 ? `${hash.slice(0, 12)}…${hash.slice(-6)}` : hash;
}

function ledger(head, incidentId) {
  const id = encodeURIComponent(incidentId);
  return card(t('use.ledger'),
    h('p', { text: t('use.ledgerIntro') }),
    stats([
      [t('use.entries'), fmtNumber(head.entries)],
      [t('use.head'), h('code', { class: 'code', title: head.head, dataset: { hash: head.head }, text: shortHash(head.head) })],
      [t('use.asOf'), head.as_of ? fmtTime(head.as_of) : t('use.noEntries')],
      [t('use.keyId'), h('code', { class: 'code', text: head.key_id })],
    ], 'stats stats-wide'),
    h('details', {}, h('summary', { text: t('use.headFull') }),
      h('code', { class: 'code hash-full', text: head.head })),
    h('ul', { class: 'links' },
      h('li', {}, h('a', { href: `/v1/public/incidents/${id}/ledger`, text: t('use.headLink') })),
      h('li', {}, h('a', { href: `/v1/public/incidents/${id}/ledger/entries`, text: t('use.entriesLink') })),
      h('li', {}, h('a', { href: '/v1/public/ledger-key', text: t('use.keyLink') }))));
}

/** The section, from GET …/use and the signed head of GET …/ledger (either may be missing: null). */
export function section(use, head, incidentId) {
  const parts = [];
  if (use) {
    parts.push(use.money.length ? use.money.map(money)
      : card(t('use.moneyNone'), h('p', { class: 'empty', text: t('use.noMoney') })));
    parts.push(goods(use));
  }
  if (head) parts.push(ledger(head, incidentId));
  return h('section', { 'aria-labelledby': 'public-use' },
    h('h2', { id: 'public-use', text: t('use.heading') }),
    h('p', { text: t('use.intro') }), parts);
}
