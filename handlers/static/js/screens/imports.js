// Imports (批量导入): a township's spreadsheet of residents, evacuations, donations or impact figures. Choose
// the kind, download its template (CSV, or a workbook with the incident's code lists), upload the file as a
// check (a dry run: nothing written, every bad row listed) or as the import itself, and watch its progress;
// the refused rows come back in a table (row, column, reason, the row's values masked) and as a CSV to fix
// the sheet with. After a check that refused rows, the same file can be imported for its valid rows. Only
// dispatchers import; everyone on the staff can download the templates.
import { t, getLang, fmtNumber } from '../i18n.js';
import { ApiError, get, newKey, upload } from '../api.js';
import { h, button, field, problemText, select, table, uid, update } from '../dom.js';

const KINDS = ['residents', 'evacuations', 'donations', 'impacts'];
const XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';
const POLL_MS = 500;
const COUNTS = ['read', 'written', 'present', 'duplicate', 'refused'];

const kindLabel = (kind) => t(`imports.kinds.${kind}`);
const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

/** The content type the API reads a file as: by its name, else what the browser says it is. */
function typeOf(file) {
  const name = file.name.toLowerCase();
  if (name.endsWith('.csv')) return 'text/csv';
  if (name.endsWith('.xlsx')) return XLSX;
  return file.type || 'application/octet-stream';
}

function templateLinks(kind, incidentId) {
  const name = kindLabel(kind);
  return [
    h('span', { text: t('imports.templates') }), ' ',
    h('a', { href: `/v1/imports/templates/${kind}.csv`, download: '', dataset: { template: 'csv' },
      'aria-label': t('imports.templateCsvAria', { kind: name }), text: t('imports.templateCsv') }), ' · ',
    h('a', { href: `/v1/imports/templates/${kind}.xlsx?incident_id=${encodeURIComponent(incidentId)}`, download: '',
      dataset: { template: 'xlsx' }, 'aria-label': t('imports.templateXlsxAria', { kind: name }),
      text: t('imports.templateXlsx') }),
  ];
}

function progressView(found) {
  const { counts } = found;
  const known = counts.total !== null && counts.total !== undefined;
  const id = uid('import-progress');
  const finished = found.state === 'done' || found.state === 'failed';
  return h('div', { class: 'import-progress' },
    h('p', { class: 'bar-label', id },
      h('span', { class: 'bar-name', text: t('imports.progress') }), ' ',
      h('span', { text: known ? t('imports.readOf', { read: fmtNumber(counts.read), total: fmtNumber(counts.total) })
        : t('imports.readSoFar', { read: fmtNumber(counts.read) }) })),
    // Until the total is known the bar is indeterminate (no value); a finished import fills it.
    h('progress', { max: known ? Math.max(counts.total, 1) : 1, 'aria-labelledby': id,
      value: known ? (counts.total === 0 && finished ? 1 : counts.read) : undefined,
      dataset: { read: String(counts.read), total: known ? String(counts.total) : '' } }));
}

function countsView(found) {
  const { counts } = found;
  const label = (key) => (key === 'written' && found.dry_run ? t('imports.wouldWrite') : t(`imports.${key}`));
  return h('dl', { class: 'stats import-counts' },
    h('div', { dataset: { count: 'total' } }, h('dt', { text: t('imports.total') }),
      h('dd', { text: counts.total === null ? '—' : fmtNumber(counts.total) })),
    COUNTS.map((key) => h('div', { dataset: { count: key } }, h('dt', { text: label(key) }),
      h('dd', { text: fmtNumber(counts[key]) }))));
}

function cellsText(cells) {
  return Object.entries(cells || {}).filter(([, value]) => value !== '')
    .map(([column, value]) => `${column}: ${value}`).join(' · ');
}

function refusedView(found) {
  if (!found.counts.refused) return h('p', { class: 'empty', text: t('imports.noneRefused') });
  return [
    table(t('imports.refusedCaption'), [t('imports.row'), t('imports.column'), t('imports.reason'), t('imports.cells')],
      found.errors.map((e) => [h('strong', { text: String(e.row) }), e.column || t('imports.wholeRow'), e.reason,
        h('span', { class: 'import-cells', text: cellsText(e.cells) })]),
      { rowProps: (i) => ({ dataset: { row: String(found.errors[i].row) } }) }),
    found.counts.refused > found.errors.length
      && h('p', { class: 'meta', text: t('imports.firstOnly', { n: fmtNumber(found.errors.length) }) }),
    h('p', {}, h('a', { href: `/v1/imports/${found.id}/errors.csv`, download: '', class: 'import-errors-csv',
      text: t('imports.errorsCsv') })),
  ];
}

function resultView(found, job, { onImportValid, busy }) {
  const heading = found.dry_run ? t('imports.checkOf', { name: job.file.name, kind: kindLabel(job.kind) })
    : t('imports.runOf', { name: job.file.name, kind: kindLabel(job.kind) });
  const done = found.state === 'done';
  const offerValid = done && found.dry_run && found.counts.refused > 0 && found.counts.written > 0 && onImportValid;
  return [
    h('h3', { id: 'import-result-heading', tabindex: '-1', text: heading }),
    h('p', { class: 'meta' },
      h('span', { class: 'import-state', dataset: { state: found.state }, text: t(`imports.states.${found.state}`) }),
      found.charset && h('span', { text: t('imports.readAs', { format: found.format.toUpperCase(),
        charset: found.charset.toUpperCase() }) })),
    progressView(found),
    countsView(found),
    found.state === 'failed' && h('p', { class: 'form-error', role: 'alert',
      text: t('imports.failure', { reason: found.failure || '' }) }),
    found.resumed && h('p', { class: 'meta', text: t('imports.resumed') }),
    done && h('p', { class: 'meta import-summary', text: found.dry_run
      ? t('imports.checked', { written: fmtNumber(found.counts.written), refused: fmtNumber(found.counts.refused) })
      : t('imports.imported', { written: fmtNumber(found.counts.written), present: fmtNumber(found.counts.present),
        refused: fmtNumber(found.counts.refused) }) }),
    (done || found.state === 'failed') && refusedView(found),
    offerValid && h('div', { class: 'form-actions' },
      button(t('imports.importValid'), { class: 'primary', disabled: busy, on: { click: onImportValid } })),
  ];
}

export async function mount(ctx) {
  const { incident } = ctx;
  const state = { alive: true, busy: false, job: null, found: null };
  const kind = select('kind', KINDS.map((k) => [k, kindLabel(k)]), 'residents');
  const templates = h('p', { class: 'import-templates' });
  const syncTemplates = () => templates.replaceChildren(...templateLinks(kind.value, incident.id));
  kind.addEventListener('change', syncTemplates);
  syncTemplates();
  const result = h('div', { class: 'import-result', 'aria-live': 'polite' });
  const picker = [h('div', { class: 'grid' }, field(t('imports.kind'), kind)), templates];

  let uploadForm = null;
  let buttons = [];
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true });

  function setBusy(on) {
    state.busy = on;
    for (const b of buttons) b.disabled = on;
    result.querySelectorAll('button').forEach((b) => { b.disabled = on; });
  }

  function show(found) {
    state.found = found;
    update(result, resultView(found, state.job, { onImportValid: ctx.canDispatch ? importValid : null,
      busy: state.busy }));
  }

  async function run(job, dryRun) {
    error.hidden = true;
    setBusy(true);
    try {
      let found = await upload(`/v1/incidents/${incident.id}/imports`, job.file, typeOf(job.file), newKey(),
        { query: { kind: job.kind, dry_run: dryRun ? 'true' : 'false' }, language: getLang() });
      state.job = job; // a refused upload (415, 422) leaves the last import shown as it was
      show(found);
      while (state.alive && !['done', 'failed'].includes(found.state)) {
        await sleep(POLL_MS);
        if (!state.alive) return;
        found = await get(`/v1/imports/${found.id}`);
        show(found);
      }
      if (!state.alive) return;
      if (found.state === 'done') {
        ctx.notify(found.dry_run
          ? t('imports.checked', { written: fmtNumber(found.counts.written), refused: fmtNumber(found.counts.refused) })
          : t('imports.imported', { written: fmtNumber(found.counts.written), present: fmtNumber(found.counts.present),
            refused: fmtNumber(found.counts.refused) }));
      }
    } catch (failure) {
      error.textContent = problemText(failure);
      error.hidden = false;
      if (!(failure instanceof ApiError) && !(failure instanceof TypeError)) throw failure;
    } finally {
      setBusy(false);
      if (state.found) show(state.found); // its button, enabled again
    }
  }

  function importValid() {
    if (state.job && !state.busy) run(state.job, false).catch(ctx.showError);
  }

  if (ctx.canDispatch) {
    const file = h('input', { type: 'file', name: 'file', id: uid('file'), accept: '.csv,.xlsx', required: true });
    const check = h('button', { type: 'submit', dataset: { dryRun: 'true' } }, t('imports.check'));
    const go = h('button', { type: 'submit', class: 'primary', dataset: { dryRun: 'false' } }, t('imports.run'));
    buttons = [check, go];
    uploadForm = h('form', { class: 'form stack', 'aria-label': t('imports.form') },
      picker, field(t('imports.file'), file, t('imports.fileHint')), error,
      h('div', { class: 'form-actions' }, check, go));
    uploadForm.addEventListener('submit', (event) => {
      event.preventDefault();
      const chosen = file.files[0];
      if (!chosen || state.busy) return;
      const dryRun = event.submitter?.dataset.dryRun !== 'false';
      run({ file: chosen, kind: kind.value }, dryRun).catch(ctx.showError);
    });
  }

  ctx.root.append(h('section', { class: 'card', 'aria-labelledby': 'imports-heading' },
    h('h2', { id: 'imports-heading', text: t('imports.heading') }),
    h('p', { class: 'meta', text: t('imports.intro') }),
    uploadForm || [h('p', { class: 'meta imports-read-only', text: t('imports.readOnly') }), ...picker],
    result));
  return {
    unmount() { state.alive = false; },
  };
}
