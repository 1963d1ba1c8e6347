// Sign-in: an API key pasted once becomes an HttpOnly session cookie (the key itself is never stored here).
import { t } from '../i18n.js';
import { post } from '../api.js';
import { h, field, form, input } from '../dom.js';

export async function mount(ctx) {
  const key = input('key', { type: 'password', autocomplete: 'off', spellcheck: 'false', required: true });
  ctx.root.append(h('section', { class: 'card signin' },
    h('h1', { tabindex: '-1', text: t('session.heading') }),
    h('p', { text: t('session.intro') }),
    form({
      label: t('session.heading'),
      submit: t('session.submit'),
      children: [field(t('session.keyLabel'), key, t('session.keyHint'))],
      describe: (error) => ({ 401: t('session.bad'), 403: t('session.forbidden') })[error.status],
      onSubmit: async (got) => ctx.onSignedIn(await post('/console/session', { key: got.key })),
    }),
    h('p', { class: 'hint', text: t('session.publicHint') })));
  return { title: t('session.heading') };
}
