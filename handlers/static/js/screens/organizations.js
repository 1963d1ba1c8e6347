// Organizations (社会组织): every registered organization with its status (GET /v1/organizations); dispatchers
// register one (POST /v1/organizations), approve or suspend it (…/approve, …/suspend); an admin issues keys for
// an organization (POST /v1/organizations/{id}/keys) and for the bureau's staff (POST /v1/keys), each shown once.
// Every staff role reads; the buttons are there only for the roles the API lets take them.
import { t, tEnum, enumOptions, fmtTime } from '../i18n.js';
import { getAll, post } from '../api.js';
import { h, badge, button, field, form, input, select, table, update } from '../dom.js';
import { ask } from '../dialog.js';
import { regionField, regionLabel } from '../region_picker.js';

const STATUS_BADGE = { pending: 'warn', approved: 'ok', suspended: 'failed' };
const STAFF_ROLES = ['dispatcher', 'viewer', 'admin'];

/** The secret of a key just issued: shown this once, with a copy button (it is stored hashed). */
function shownOnce(created, notify) {
  const secret = h('code', { class: 'key-secret', text: created.key });
  const copy = button(t('organizations.copy'), {
    on: {
      click: async () => {
        try {
          await navigator.clipboard.writeText(created.key);
          notify(t('organizations.copied'));
        } catch {
          // No clipboard (an http:// page on a LAN is not a secure context): select it for Ctrl+C instead.
          const range = document.createRange();
          range.selectNodeContents(secret);
          window.getSelection().removeAllRanges();
          window.getSelection().addRange(range);
          notify(t('organizations.copyBySelection'));
        }
      },
    },
  });
  return h('section', { class: 'card key-issued', role: 'status', 'aria-labelledby': 'key-issued-heading',
    dataset: { keyId: created.id } },
  h('h2', { id: 'key-issued-heading', text: t('organizations.keyIssued', { name: created.name }) }),
  h('p', { class: 'key-once' }, secret, copy),
  h('p', { class: 'hint', text: t('organizations.keyOnce', { prefix: created.prefix }) }));
}

function registerForm(ctx, refresh) {
  return form({
    label: t('organizations.register'),
    submit: t('organizations.registerSubmit'),
    cls: 'grid',
    children: [
      field(t('organizations.name'), input('name', { required: true, maxlength: 200 })),
      field(t('organizations.creditCode'), input('credit_code', { required: true, maxlength: 18, autocomplete: 'off' }),
        t('organizations.creditCodeHint')),
      field(t('organizations.kind'), select('kind', enumOptions('organization_kind'), 'volunteer_team')),
      regionField(t('organizations.region'), input('region', { required: true, inputmode: 'numeric', maxlength: 6 }),
        t('organizations.regionHint')),
      field(t('organizations.contactName'), input('contact_name', { required: true, maxlength: 200,
        dataset: { pointer: '/contact/name' } })),
      field(t('organizations.contactPhone'), input('contact_phone', { inputmode: 'tel', dataset: { pointer: '/contact/phone' } })),
      field(t('organizations.skills'), input('skills', { dataset: { pointer: '/capabilities/skills' } }),
        t('organizations.tagsHint')),
      field(t('organizations.goods'), input('goods', { dataset: { pointer: '/capabilities/goods' } }),
        t('organizations.tagsHint')),
    ],
    onSubmit: async (got) => {
      const tags = (text) => (text || '').split(/[\s,，、]+/).filter(Boolean);
      const created = await post('/v1/organizations', {
        name: got.name, credit_code: got.credit_code, kind: got.kind, region: got.region,
        contact: { name: got.contact_name, ...(got.contact_phone ? { phone: got.contact_phone } : {}) },
        capabilities: { skills: tags(got.skills), goods: tags(got.goods) },
      });
      ctx.notify(t('organizations.registered', { name: created.name }));
      await refresh();
    },
  });
}

function staffKeyForm(ctx, showKey) {
  return form({
    label: t('organizations.staffKey'),
    submit: t('organizations.issue'),
    cls: 'grid',
    children: [
      field(t('organizations.keyName'), input('name', { required: true, maxlength: 200 }), t('organizations.keyNameHint')),
      field(t('organizations.keyRole'), select('role', STAFF_ROLES.map((r) => [r, tEnum('role', r)]), 'dispatcher')),
    ],
    onSubmit: async (got) => {
      showKey(await post('/v1/keys', { name: got.name, role: got.role }));
    },
  });
}

function listTable(items, ctx, act) {
  return table(t('organizations.caption'), [
    t('organizations.name'), t('organizations.kind'), t('organizations.region'), t('organizations.status'),
    t('organizations.registeredAt'), t('common.actions'),
  ], items.map((o) => [
    h('span', {}, h('strong', { text: o.name }), ' ', h('span', { class: 'code hint', text: o.credit_code })),
    tEnum('organization_kind', o.kind),
    regionLabel(o.region, o.region_name),
    badge(tEnum('organization_status', o.status), STATUS_BADGE[o.status]),
    fmtTime(o.created_at),
    h('div', { class: 'row-actions' },
      ctx.canDispatch && o.status !== 'approved' && button(t('organizations.approve'), {
        'aria-label': t('organizations.approveAria', { name: o.name }), on: { click: () => act('approve', o) } }),
      ctx.canDispatch && o.status === 'approved' && button(t('organizations.suspend'), {
        class: 'danger', 'aria-label': t('organizations.suspendAria', { name: o.name }),
        on: { click: () => act('suspend', o) } }),
      ctx.isAdmin && button(t('organizations.issueKey'), {
        'aria-label': t('organizations.issueKeyAria', { name: o.name }), on: { click: () => act('key', o) } })),
  ]), { empty: t('organizations.empty'),
    rowProps: (i) => ({ dataset: { organizationId: items[i].id, status: items[i].status } }) });
}

function keysTable(items) {
  return table(t('organizations.keysCaption'), [
    t('organizations.keyName'), t('organizations.keyRole'), t('organizations.prefix'), t('organizations.lastUsed'),
  ], items.map((k) => [k.name, tEnum('role', k.role), h('code', { text: `${k.prefix}…` }),
    k.last_used_at ? fmtTime(k.last_used_at) : t('organizations.never')]), { empty: t('common.none') });
}

export async function mount(ctx) {
  const list = h('div', { class: 'region' });
  const issued = h('div', { 'aria-live': 'polite' });
  const keys = h('div', { class: 'region' });
  const showKey = (created) => {
    update(issued, shownOnce(created, ctx.notify));
    issued.querySelector('button')?.focus();
    refresh().catch(ctx.showError);
  };
  async function act(action, organization) {
    try {
      if (action === 'key') {
        const got = await ask({
          title: t('organizations.issueKeyTitle', { name: organization.name }),
          fields: [{ name: 'name', label: t('organizations.keyName'), required: true, value: t('organizations.keyDefault'),
            pointer: '/name' }],
          submit: t('organizations.issue'),
          onSubmit: async (values) => showKey(await post(`/v1/organizations/${organization.id}/keys`, { name: values.name })),
        });
        if (!got) return;
      } else {
        await post(`/v1/organizations/${organization.id}/${action}`);
        ctx.notify(t(`organizations.done.${action}`, { name: organization.name }));
        await refresh();
      }
    } catch (error) {
      ctx.showError(error);
    }
  }
  ctx.root.append(
    h('h1', { tabindex: '-1', text: t('organizations.heading') }),
    h('p', { class: 'lead', text: t('organizations.intro') }),
    issued,
    list,
    ctx.canDispatch && h('section', { class: 'card', 'aria-labelledby': 'register-organization' },
      h('h2', { id: 'register-organization', text: t('organizations.register') }), registerForm(ctx, () => refresh())),
    ctx.isAdmin && h('section', { class: 'card', 'aria-labelledby': 'staff-keys' },
      h('h2', { id: 'staff-keys', text: t('organizations.staffKey') }), staffKeyForm(ctx, showKey), keys),
  );
  async function refresh() {
    const [items, staffKeys] = await Promise.all([
      getAll('/v1/organizations', {}, 5),
      ctx.isAdmin ? getAll('/v1/keys', {}, 2) : Promise.resolve(null),
    ]);
    update(list, listTable(items, ctx, act));
    if (staffKeys) update(keys, keysTable(staffKeys));
  }
  await refresh();
  return { title: t('organizations.heading'), refresh };
}
