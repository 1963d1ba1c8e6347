// Email (邮件通知): what Relief emails, to whom and by which rule (GET /v1/notification-rules), and the log of
// every message (GET /v1/notifications), newest first, filtered by status and paged on; a row opens its
// attempts, each with the SMTP server's reply or the error (GET /v1/notifications/{id}). Dispatchers and admins.
import { t, tEnum, enumOptions, fmtTime } from '../i18n.js';
import { get } from '../api.js';
import { h, badge, button, field, select, table, update } from '../dom.js';

const PAGE = 50;
const STATUS_BADGE = { delivered: 'delivered', pending: 'warn', failed: 'failed' };

/** A rule's recipients in the console's words; a rule the catalogue does not know keeps the server's (English). */
function recipients(rule) {
  const known = tEnum('notification_recipients', rule.name);
  return known === rule.name ? h('span', { lang: 'en', text: rule.recipients }) : known;
}

function rulesTable(rules) {
  return table(t('notifications.rulesCaption'), [
    t('notifications.rule'), t('notifications.recipients'), t('notifications.enabled'), t('notifications.setting'),
  ], rules.items.map((rule) => [
    h('span', {}, h('strong', { text: tEnum('event', rule.name) }), ' ', h('code', { class: 'hint', text: rule.name })),
    recipients(rule),
    badge(rule.enabled ? t('notifications.on') : t('notifications.off'), rule.enabled ? 'ok' : 'muted'),
    h('code', { text: rule.setting }),
  ]), { rowProps: (i) => ({ dataset: { rule: rules.items[i].name, enabled: String(rules.items[i].enabled) } }) });
}

function statusBadge(status) {
  return badge(tEnum('notification_status', status), STATUS_BADGE[status]);
}

function logTable(items, show, selected) {
  return table(t('notifications.logCaption'), [
    t('notifications.time'), t('notifications.rule'), t('notifications.recipient'), t('notifications.subject'),
    t('notifications.status'), t('notifications.attempts'), t('notifications.lastError'),
  ], items.map((n) => [
    h('span', { class: 'nowrap', text: fmtTime(n.created_at) }),
    h('span', { class: 'nowrap', text: tEnum('event', n.rule) }),
    n.recipient,
    h('span', { lang: n.language === 'en' ? 'en' : 'zh', text: n.subject }),
    statusBadge(n.status),
    // The button is the row's keyboard way in; its click goes up to the row's.
    button(String(n.attempts), { 'aria-label': t('notifications.showAttempts', { subject: n.subject }),
      'aria-expanded': String(n.id === selected) }),
    n.last_error || '',
  ]), {
    empty: t('notifications.empty'),
    rowProps: (i) => ({
      class: `clickable${items[i].id === selected ? ' selected' : ''}`,
      dataset: { notificationId: items[i].id, status: items[i].status },
      on: { click: () => show(items[i].id) },
    }),
  });
}

function detailView(n, close) {
  return h('section', { class: 'card notification-detail', 'aria-labelledby': 'notification-detail-heading',
    dataset: { notificationId: n.id } },
  h('div', { class: 'call-head' },
    h('h3', { id: 'notification-detail-heading', tabindex: '-1',
      text: t('notifications.detailHeading', { subject: n.subject }) }),
    statusBadge(n.status),
    button(t('notifications.close'), { on: { click: close } })),
  h('p', { class: 'meta' },
    h('span', { text: tEnum('event', n.rule) }),
    h('span', { text: t('notifications.detailMeta', { recipient: n.recipient }) }),
    n.delivered_at && h('span', { text: t('notifications.deliveredAt', { time: fmtTime(n.delivered_at) }) }),
    n.status === 'pending' && n.next_attempt_at
      && h('span', { text: t('notifications.nextAttempt', { time: fmtTime(n.next_attempt_at) }) })),
  table(t('notifications.attemptsCaption', { subject: n.subject }), [
    t('notifications.number'), t('notifications.attemptedAt'), t('notifications.smtpCode'), t('notifications.error'),
    t('notifications.latency'),
  ], n.attempt_log.map((a) => [
    String(a.number), fmtTime(a.attempted_at), a.smtp_code === null ? '' : String(a.smtp_code), a.error || '',
    a.latency_ms === null ? '' : String(a.latency_ms),
  ]), { empty: t('notifications.noAttempts') }),
  h('details', {}, h('summary', { text: t('notifications.body') }),
    h('pre', { class: 'mail-body', lang: n.language === 'en' ? 'en' : 'zh', text: n.body_text })));
}

export async function mount(ctx) {
  const title = t('notifications.heading');
  ctx.root.append(h('h1', { tabindex: '-1', text: title }));
  if (!ctx.canDispatch) { // the API would answer 403: say so in words instead
    ctx.root.append(h('p', { class: 'empty', text: t('notifications.staffOnly') }));
    return { title };
  }
  const banner = h('div');
  const rulesRegion = h('div', { class: 'region' });
  const logRegion = h('div', { class: 'region' });
  const detail = h('div', { class: 'notification-slot' }); // the opened message; focus moves to its heading
  const more = button(t('notifications.more'), { hidden: true });
  const status = select('status', [['', t('notifications.all')], ...enumOptions('notification_status')], '');
  const state = { items: [], cursor: null, selected: null };

  ctx.root.append(banner,
    h('section', { 'aria-labelledby': 'rules-heading' },
      h('h2', { id: 'rules-heading', text: t('notifications.rulesHeading') }), rulesRegion),
    h('section', { 'aria-labelledby': 'log-heading' },
      h('h2', { id: 'log-heading', text: t('notifications.logHeading') }),
      h('div', { class: 'grid filters' }, field(t('notifications.filter'), status)),
      detail, logRegion, h('div', { class: 'form-actions more' }, more)));

  function renderLog() {
    update(logRegion, logTable(state.items, show, state.selected));
    more.hidden = !state.cursor;
  }

  async function show(id) {
    try {
      const found = await get(`/v1/notifications/${encodeURIComponent(id)}`);
      state.selected = id;
      renderLog();
      update(detail, detailView(found, () => {
        state.selected = null;
        detail.replaceChildren();
        renderLog();
        // Back to the row it came from (CSS.escape: the id goes into a selector).
        logRegion.querySelector(`tr[data-notification-id="${CSS.escape(id)}"] button`)?.focus();
      }));
      detail.querySelector('h3')?.focus();
    } catch (error) {
      ctx.showError(error);
    }
  }

  async function load(cursor) {
    const page = await get('/v1/notifications', { limit: PAGE, status: status.value, cursor });
    state.items = cursor ? [...state.items, ...page.items] : page.items;
    state.cursor = page.next_cursor;
    renderLog();
  }

  async function refresh() {
    const rules = await get('/v1/notification-rules');
    update(banner, rules.email ? [] : h('p', { class: 'form-error smtp-off', role: 'status',
      text: t('notifications.smtpOff') }));
    update(rulesRegion, rulesTable(rules));
    await load(null);
  }

  status.addEventListener('change', () => {
    state.selected = null;
    detail.replaceChildren();
    load(null).catch(ctx.showError);
  });
  more.addEventListener('click', async () => {
    more.disabled = true;
    try {
      await load(state.cursor);
      // The last page in: the button goes, so keyboard users carry on from the last row.
      if (!state.cursor) logRegion.querySelector('tbody tr:last-child button')?.focus();
    } catch (error) {
      ctx.showError(error);
    } finally {
      more.disabled = false;
    }
  });
  await refresh();
  return { refresh, title };
}
