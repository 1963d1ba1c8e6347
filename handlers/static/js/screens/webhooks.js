// Webhooks (订阅推送), read-only: the bureau's and every organization's subscriptions (GET /v1/webhooks) with
// their status, circuit breaker, failing_since and rate limit; one opens its delivery log (GET
// /v1/webhooks/{id}/deliveries, #/webhooks/<id>). A dispatcher may retry the bureau's own deliveries
// (POST /v1/deliveries/{id}/retry); an organization's stay its own to retry, as the API says.
import { t, tEnum, fmtTime, fmtNumber } from '../i18n.js';
import { get, getAll, post } from '../api.js';
import { h, badge, button, table, update } from '../dom.js';

const STATUS_BADGE = { active: 'ok', paused: 'warn', disabled: 'failed' };
const BREAKER_BADGE = { closed: 'ok', open: 'failed', held: 'warn' };
const DELIVERY_BADGE = { delivered: 'delivered', pending: 'warn', failed: 'failed' };

function owner(webhook, names) {
  return webhook.organization_id ? names.get(webhook.organization_id) || webhook.organization_id : t('webhooks.bureau');
}

function listTable(items, names, selected) {
  return table(t('webhooks.caption'), [
    t('webhooks.owner'), t('webhooks.url'), t('webhooks.events'), t('webhooks.status'), t('webhooks.breaker'),
    t('webhooks.failingSince'), t('webhooks.rateLimit'), t('webhooks.log'),
  ], items.map((w) => [
    owner(w, names),
    h('span', { class: 'code', text: w.url }),
    w.event_types.join(' '),
    h('span', {}, badge(tEnum('webhook_status', w.status), STATUS_BADGE[w.status]),
      w.held ? [' ', badge(t('webhooks.held'), 'warn')] : null),
    badge(tEnum('breaker_state', w.breaker.state), BREAKER_BADGE[w.breaker.state]),
    w.failing_since ? fmtTime(w.failing_since) : t('webhooks.healthy'),
    w.rate_limit === null || w.rate_limit === undefined ? t('webhooks.noLimit')
      : t('webhooks.perSecond', { n: fmtNumber(w.rate_limit) }),
    h('a', { href: `#/webhooks/${w.id}`, 'aria-current': w.id === selected ? 'true' : null,
      text: t('webhooks.openLog'), 'aria-label': t('webhooks.openLogAria', { owner: owner(w, names), url: w.url }) }),
  ]), { empty: t('webhooks.empty'),
    rowProps: (i) => ({ class: items[i].id === selected ? 'selected' : '', dataset: { webhookId: items[i].id,
      owner: items[i].organization_id ? 'organization' : 'bureau' } }) });
}

function lastAnswer(d) {
  if (d.last_status_code) return `HTTP ${d.last_status_code}`;
  return d.last_error || '';
}

function logTable(webhook, deliveries, mayRetry, retry) {
  return table(t('webhooks.logCaption', { url: webhook.url }), [
    t('webhooks.time'), t('webhooks.eventType'), t('webhooks.deliveryStatus'), t('webhooks.attempts'),
    t('webhooks.lastAnswer'), t('webhooks.nextAttempt'), t('common.actions'),
  ], deliveries.map((d) => [
    h('span', { class: 'nowrap', text: fmtTime(d.created_at) }),
    h('span', {}, tEnum('event', d.event_type), ' ', h('code', { class: 'hint', text: d.event_type })),
    badge(tEnum('delivery_status', d.status), DELIVERY_BADGE[d.status]),
    String(d.attempt_count),
    lastAnswer(d),
    d.next_attempt_at ? fmtTime(d.next_attempt_at) : '',
    mayRetry ? button(t('webhooks.retry'), { 'aria-label': t('webhooks.retryAria', { type: d.event_type,
      time: fmtTime(d.created_at) }), on: { click: () => retry(d) } }) : '',
  ]), { empty: t('webhooks.noDeliveries'),
    rowProps: (i) => ({ dataset: { deliveryId: deliveries[i].id, status: deliveries[i].status } }) });
}

export async function mount(ctx, selected) {
  const list = h('div', { class: 'region' });
  const log = h('div', { class: 'region' });
  ctx.root.append(
    h('h1', { tabindex: '-1', text: t('webhooks.heading') }),
    h('p', { class: 'lead', text: t('webhooks.intro') }),
    list, log);
  async function retry(delivery) {
    try {
      await post(`/v1/deliveries/${delivery.id}/retry`);
      ctx.notify(t('webhooks.retried', { type: tEnum('event', delivery.event_type) }));
      await refresh();
    } catch (error) {
      ctx.showError(error);
    }
  }
  async function refresh() {
    const [items, organizations] = await Promise.all([getAll('/v1/webhooks', {}, 5), getAll('/v1/organizations', {}, 5)]);
    const names = new Map(organizations.map((o) => [o.id, o.name]));
    update(list, listTable(items, names, selected));
    const webhook = selected && items.find((w) => w.id === selected);
    if (!webhook) { update(log, []); return; }
    const page = await get(`/v1/webhooks/${webhook.id}/deliveries`, { limit: 100 });
    // Retry is the owner's: dispatchers retry the bureau's own; an organization retries its own with its key.
    const mayRetry = ctx.canDispatch && !webhook.organization_id;
    update(log, h('section', { class: 'card', 'aria-labelledby': 'webhook-log-heading', dataset: { webhookId: webhook.id } },
      h('h2', { id: 'webhook-log-heading', text: t('webhooks.logHeading', { owner: owner(webhook, names) }) }),
      h('p', { class: 'hint', text: webhook.organization_id ? t('webhooks.theirsToRetry') : t('webhooks.oursToRetry') }),
      logTable(webhook, page.items, mayRetry, retry)));
  }
  await refresh();
  return { title: t('webhooks.heading'), refresh };
}
