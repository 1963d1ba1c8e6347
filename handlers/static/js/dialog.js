// A modal <dialog> that asks for a few values (a reason, a quantity, a shelter) and resolves with them,
// or with null when cancelled. Outside the live regions, so an update never closes it.
import { t } from './i18n.js';
import { h, field, input, select, textarea, values, problemText, markFields, clearFieldErrors } from './dom.js';
import { regionField } from './region_picker.js';

/**
 * fields: [{name, label, type: 'text'|'number'|'textarea'|'select', options, value, required, hint, region}];
 * `region: 'one'|'several'` puts the region picker beside a text box of one code or several (region_picker.js).
 * check (optional) looks at the values first and returns what is wrong in words (or nothing);
 * onSubmit (optional) runs with the values; a failure keeps the dialog open and shows why
 * (`describe(failure)` may say it better than the generic problem text).
 */
export function ask({ title, intro, fields = [], submit, onSubmit, check, describe, danger = false }) {
  return new Promise((resolve) => {
    const titleId = `dlg-${Math.random().toString(36).slice(2)}`;
    const error = h('p', { class: 'form-error', role: 'alert', hidden: true });
    const controls = fields.map((spec) => {
      const common = { required: spec.required, value: spec.value };
      let control;
      if (spec.type === 'select') control = select(spec.name, spec.options, spec.value, { required: spec.required });
      else if (spec.type === 'textarea') control = textarea(spec.name, common);
      else control = input(spec.name, { ...common, type: spec.type || 'text', step: spec.step, min: spec.min,
        inputmode: spec.inputmode });
      if (spec.pointer) control.dataset.pointer = spec.pointer; // where a 422 names it (markFields)
      if (spec.region) return regionField(spec.label, control, spec.hint, { multiple: spec.region === 'several' });
      return field(spec.label, control, spec.hint);
    });
    const confirm = h('button', { type: 'submit', class: danger ? 'danger' : 'primary' }, submit);
    const cancel = h('button', { type: 'button' }, t('common.cancel'));
    const formEl = h('form', { class: 'stack', method: 'dialog' },
      h('h2', { id: titleId, text: title }), intro && h('p', { text: intro }), controls, error,
      h('div', { class: 'form-actions' }, confirm, cancel));
    const dialog = h('dialog', { 'aria-labelledby': titleId }, formEl);
    let answer = null;
    cancel.addEventListener('click', () => dialog.close());
    formEl.addEventListener('submit', async (event) => {
      event.preventDefault();
      const got = values(formEl);
      const wrong = check && check(got);
      if (wrong) {
        error.textContent = wrong;
        error.hidden = false;
        return;
      }
      if (onSubmit) {
        confirm.disabled = true;
        clearFieldErrors(formEl);
        try {
          await onSubmit(got);
        } catch (failure) {
          markFields(formEl, failure);
          error.textContent = (describe && describe(failure)) || problemText(failure, formEl);
          error.hidden = false;
          return;
        } finally {
          confirm.disabled = false;
        }
      }
      answer = got;
      dialog.close();
    });
    dialog.addEventListener('close', () => { dialog.remove(); resolve(answer); });
    document.body.append(dialog);
    dialog.showModal();
  });
}
