// The field board: the incident's tasks on the left (status, priority, skill, headcount, the teams assigned
// and how many of them are on site), on the right the muster (who is on site now, by task and team, overdue
// members first and in red, with how long). Dispatchers create tasks, assign teams, check members in from an
// assigned team's roster, and check them out or give them more time; everyone else reads.
import { t, tEnum, enumOptions, fmtTime, fmtNumber, wallToIso, nowWall } from '../i18n.js';
import { get, getAll, post } from '../api.js';
import { h, badge, button, field, form, input, select, setOptions, table, update } from '../dom.js';
import { ask } from '../dialog.js';
import { overdueFor } from './field_alarm.js';
import { regionField, regionLabel } from '../region_picker.js';

const STATUS_ORDER = ['in_progress', 'assigned', 'open', 'done', 'cancelled'];
const PRIORITY_ORDER = ['critical', 'high', 'normal', 'low'];
const ACTIVE = ['open', 'assigned', 'in_progress'];
const ASSIGNABLE = ['accepted', 'dispatched', 'delivered'];
const STATUS_BADGE = { open: 'warn', assigned: 'dispatched', in_progress: 'ok', done: 'muted', cancelled: 'muted' };

/** A datetime-local value `hours` after now on the bureau's clock. */
function wallIn(hours) {
  return new Date(Date.parse(`${nowWall()}:00Z`) + hours * 3600_000).toISOString().slice(0, 16);
}

/** "31.07,120.36" a point; "31.07,120.36 5" a circle (km); more pairs a polygon (CAP notation). */
function area(got) {
  const where = got.where.trim().replace(/\s+/g, ' ');
  const parts = where.split(' ');
  const shape = parts.length === 1 ? 'point' : (parts.length === 2 && !parts[1].includes(',') ? 'circle' : 'polygon');
  return { description: got.area, [shape]: where, ...(got.region ? { region: got.region } : {}) };
}

function sortTasks(tasks) {
  return [...tasks].sort((a, b) => STATUS_ORDER.indexOf(a.status) - STATUS_ORDER.indexOf(b.status)
    || PRIORITY_ORDER.indexOf(a.priority) - PRIORITY_ORDER.indexOf(b.priority)
    || b.created_at.localeCompare(a.created_at));
}

function onSiteOf(state, taskId, pledgeId) {
  const task = state.muster.tasks.find((m) => m.task_id === taskId);
  if (!task) return 0;
  if (!pledgeId) return task.on_site;
  return task.teams.find((team) => team.pledge_id === pledgeId)?.on_site ?? 0;
}

function assign(ctx, state, task, refresh) {
  const label = t('field.assignAria', { title: task.title });
  return button(t('field.assign'), { 'aria-label': label, on: { click: async () => {
    const taken = new Set((state.assignments[task.id] || []).filter((a) => a.status !== 'declined').map((a) => a.pledge_id));
    const options = state.pledges.filter((p) => !taken.has(p.id)).map((p) => [p.id, t('field.pledgeOption', {
      org: p.organization_name || p.organization_id, n: fmtNumber(p.headcount), status: tEnum('pledge_status', p.status) })]);
    if (!options.length) { ctx.notify(t('field.noTeams'), 'error'); return; }
    const done = await ask({ title: label, intro: t('field.assignIntro'), submit: t('field.assign'),
      fields: [{ name: 'pledge', label: t('field.team'), type: 'select', options, required: true }],
      onSubmit: (got) => post(`/v1/tasks/${task.id}/assignments`, { pledge_id: got.pledge }) });
    if (done) { ctx.notify(t('field.assigned', { title: task.title })); await refresh(); }
  } } });
}

function taskCard(ctx, state, task, refresh) {
  const id = `task-${task.id}`;
  const teams = state.assignments[task.id] || [];
  return h('article', { class: `card task task-${task.status}`, 'aria-labelledby': id, dataset: { taskId: task.id } },
    h('div', { class: 'call-head' },
      h('h3', { id, text: task.title }),
      badge(tEnum('task_status', task.status), STATUS_BADGE[task.status]),
      badge(tEnum('task_priority', task.priority), `prio-${task.priority}`)),
    h('p', { class: 'meta' },
      h('span', { text: task.skill ? tEnum('skill', task.skill) : t('field.anySkill') }),
      h('span', { text: t('field.needs', { n: fmtNumber(task.headcount) }) }),
      h('span', { class: 'on-site-count', text: t('field.onSiteN', { n: fmtNumber(onSiteOf(state, task.id)) }) }),
      h('span', { text: task.area.description }),
      task.area.region && h('span', { class: 'task-region' }, regionLabel(task.area.region, task.area.region_name))),
    teams.length > 0 && h('ul', { class: 'teams', 'aria-label': t('field.teamsOf', { title: task.title }) },
      teams.map((a) => h('li', { dataset: { pledgeId: a.pledge_id } },
        h('span', { text: a.organization_name }), ' ',
        badge(tEnum('assignment_status', a.status), a.status === 'accepted' ? 'ok' : (a.status === 'declined' ? 'muted' : 'warn')),
        ' ', h('span', { class: 'meta-inline', text: t('field.teamLine',
          { n: fmtNumber(a.headcount), on: fmtNumber(onSiteOf(state, task.id, a.pledge_id)) }) })))),
    !teams.length && ACTIVE.includes(task.status) && h('p', { class: 'meta', text: t('field.noTeamYet') }),
    ctx.canDispatch && ACTIVE.includes(task.status) && h('div', { class: 'actions' }, assign(ctx, state, task, refresh)));
}

function taskForm(ctx, incident, refresh) {
  return form({
    label: t('field.newTask'),
    submit: t('field.createTask'),
    children: [h('div', { class: 'grid' },
      field(t('field.taskTitle'), input('title', { required: true, maxlength: 300 })),
      field(t('field.skill'), select('skill', [['', t('field.anySkill')], ...enumOptions('skill')], '')),
      field(t('field.headcount'), input('headcount', { type: 'number', min: 1, required: true })),
      field(t('field.priority'), select('priority', enumOptions('task_priority'), 'normal')),
      field(t('field.expectedMinutes'), input('minutes', { type: 'number', min: 1, max: 10080 })),
      field(t('field.area'), input('area', { required: true, maxlength: 500 })),
      field(t('field.where'), input('where', { required: true }), t('field.whereHint')),
      regionField(t('field.region'), input('region', { pattern: '\\d{6}', inputmode: 'numeric', maxlength: 6 })))],
    onSubmit: async (got) => {
      const body = { title: got.title, headcount: Number(got.headcount), priority: got.priority, area: area(got) };
      if (got.skill) body.skill = got.skill;
      if (got.minutes) body.expected_minutes = Number(got.minutes);
      const task = await post(`/v1/incidents/${incident.id}/tasks`, body);
      ctx.notify(t('field.created', { title: task.title }));
      await refresh();
    },
  });
}

/** Check members in: a task, one of its teams that accepted, members of that team's roster not on site. */
function checkinForm(ctx, state, refresh) {
  const taskSelect = select('task', [], undefined, { required: true });
  const teamSelect = select('team', [], undefined, { required: true });
  const members = h('fieldset', { class: 'members' });
  const back = input('back', { type: 'datetime-local', required: true, value: wallIn(4) });
  let shownFor = null;

  async function fillMembers(force = false) {
    const pledgeId = teamSelect.value;
    if (!pledgeId) { update(members, h('legend', { text: t('field.members') })); shownFor = null; return; }
    if (pledgeId === shownFor && !force) return;
    const roster = await get(`/v1/pledges/${pledgeId}/roster`);
    shownFor = pledgeId;
    const free = roster.members.filter((m) => m.state !== 'on_site');
    update(members, [h('legend', { text: t('field.members') }), free.length
      ? free.map((m) => {
        const box = h('input', { type: 'checkbox', name: 'members', value: m.id, id: `member-${m.id}` });
        return h('div', { class: 'field check' }, box, h('label', { for: box.id,
          text: `${m.name} · ${tEnum('member_role', m.role)}` }));
      })
      : h('p', { class: 'empty', text: t('field.noFreeMembers') })]);
  }
  function fillTeams() {
    const accepted = (state.assignments[taskSelect.value] || []).filter((a) => a.status === 'accepted');
    setOptions(teamSelect, accepted.map((a) => [a.pledge_id, a.organization_name]));
  }
  function fill() {
    const ready = sortTasks(state.tasks).filter((task) => ['assigned', 'in_progress'].includes(task.status)
      && (state.assignments[task.id] || []).some((a) => a.status === 'accepted'));
    setOptions(taskSelect, ready.map((task) => [task.id, task.title]));
    fillTeams();
    return fillMembers(true);
  }
  taskSelect.addEventListener('change', () => { fillTeams(); fillMembers().catch(ctx.showError); });
  teamSelect.addEventListener('change', () => fillMembers().catch(ctx.showError));
  const element = form({
    label: t('field.checkin'),
    submit: t('field.checkinSubmit'),
    keep: true,
    children: [h('div', { class: 'grid' }, field(t('field.task'), taskSelect), field(t('field.team'), teamSelect),
      field(t('field.expectedBack'), back, t('common.timezoneHint'))), members],
    onSubmit: async (got) => {
      const chosen = [].concat(got.members || []);
      if (!chosen.length) { ctx.notify(t('field.pickMembers'), 'error'); return; }
      const task = state.tasks.find((x) => x.id === got.task);
      await post(`/v1/tasks/${got.task}/checkins`, { members: chosen, expected_back_at: wallToIso(got.back) });
      ctx.notify(t('field.checkedIn', { n: chosen.length, count: chosen.length, title: task?.title ?? '' }));
      await refresh();
    },
  });
  return { element, fill };
}

function memberActions(ctx, task, m, refresh) {
  const out = button(t('field.checkout'), { 'aria-label': t('field.checkoutAria', { name: m.name }), on: { click: async (event) => {
    const target = event.currentTarget;
    target.disabled = true;
    try {
      await post(`/v1/tasks/${task.task_id}/checkouts`, { members: [m.member_id] });
      ctx.notify(t('field.checkedOut', { name: m.name }));
      await refresh();
    } catch (error) { ctx.showError(error); target.disabled = false; }
  } } });
  const extend = button(t('field.extend'), { 'aria-label': t('field.extendAria', { name: m.name }), on: { click: async () => {
    const done = await ask({ title: t('field.extendAria', { name: m.name }), intro: t('field.extendIntro'),
      submit: t('field.extend'),
      fields: [{ name: 'back', label: t('field.expectedBack'), type: 'datetime-local', value: wallIn(2), required: true,
        hint: t('common.timezoneHint') }],
      onSubmit: (got) => post(`/v1/tasks/${task.task_id}/extensions`,
        { members: [m.member_id], expected_back_at: wallToIso(got.back) }) });
    if (done) { ctx.notify(t('field.extended', { name: m.name })); await refresh(); }
  } } });
  return h('div', { class: 'actions' }, out, extend);
}

function musterView(ctx, muster, refresh) {
  if (!muster.tasks.length) return h('p', { class: 'empty', text: t('field.nobodyOnSite') });
  return muster.tasks.map((task) => h('div', { class: 'muster-task', dataset: { taskId: task.task_id } },
    h('h3', {}, task.title, ' ', task.overdue > 0 && badge(t('field.overdueN', { n: task.overdue }), 'overdue')),
    task.teams.map((team) => table(t('field.musterCaption', { org: team.organization_name, title: task.title }), [
      t('field.name'), t('field.role'), t('field.phone'), t('field.checkedInAt'), t('field.expectedBack'),
      t('field.state'), ctx.canDispatch ? t('common.actions') : null,
    ].filter(Boolean), team.members.map((m) => [
      m.name, tEnum('member_role', m.role), m.phone, fmtTime(m.checked_in_at), fmtTime(m.expected_back_at),
      m.overdue ? badge(t('field.overdueBy', { time: overdueFor(m.expected_back_at, muster.as_of) }), 'overdue')
        : badge(t('field.onSite'), 'ok'),
      ctx.canDispatch ? memberActions(ctx, task, m, refresh) : null,
    ].filter((cell) => cell !== null)), { rowProps: (i) => ({ class: team.members[i].overdue ? 'overdue' : '',
      dataset: { memberId: team.members[i].member_id } }) }))));
}

export async function mount(ctx) {
  const { incident } = ctx;
  const base = `/v1/incidents/${incident.id}`;
  const state = { tasks: [], assignments: {}, muster: { tasks: [], alarms: [], on_site: 0, overdue: 0 }, pledges: [] };
  const regions = { tasks: h('div', { class: 'tasks' }), muster: h('div'), summary: h('p', { class: 'meta' }) };
  let checkin = null;

  async function load() {
    const [tasks, muster, pledges] = await Promise.all([
      getAll(`${base}/tasks`, {}, 3), get(`${base}/field`),
      ctx.canDispatch ? getAll('/v1/pledges', { incident_id: incident.id }, 5) : Promise.resolve([]),
    ]);
    const lists = await Promise.all(tasks.map((task) => (ACTIVE.includes(task.status)
      ? getAll(`/v1/tasks/${task.id}/assignments`, {}, 1) : Promise.resolve([]))));
    state.assignments = Object.fromEntries(tasks.map((task, i) => [task.id, lists[i]]));
    state.pledges = pledges.filter((p) => p.kind === 'personnel' && ASSIGNABLE.includes(p.status));
    Object.assign(state, { tasks, muster });
  }
  async function refresh() {
    await load();
    update(regions.tasks, state.tasks.length
      ? sortTasks(state.tasks).map((task) => taskCard(ctx, state, task, refreshAll))
      : h('p', { class: 'empty', text: t('field.noTasks') }));
    regions.summary.textContent = t('field.musterSummary', { time: fmtTime(state.muster.as_of),
      on: fmtNumber(state.muster.on_site), overdue: fmtNumber(state.muster.overdue) });
    update(regions.muster, musterView(ctx, state.muster, refreshAll));
    if (checkin) await checkin.fill();
  }
  async function refreshAll() {
    await Promise.all([refresh(), ctx.refreshAlarm?.()]);
  }

  if (ctx.canDispatch) checkin = checkinForm(ctx, state, refreshAll);
  await refresh();
  const open = ctx.canDispatch && incident.status === 'open';
  ctx.root.append(h('div', { class: 'field-board' },
    h('section', { class: 'field-tasks', 'aria-labelledby': 'field-tasks' },
      h('h2', { id: 'field-tasks', text: t('field.tasks') }), regions.tasks,
      open && h('details', { class: 'card' }, h('summary', { text: t('field.newTask') }),
        taskForm(ctx, incident, refreshAll))),
    h('section', { class: 'field-muster', 'aria-labelledby': 'field-muster' },
      h('h2', { id: 'field-muster', text: t('field.muster') }), regions.summary, regions.muster,
      checkin && h('section', { class: 'card', 'aria-labelledby': 'field-checkin' },
        h('h3', { id: 'field-checkin', text: t('field.checkin') }), checkin.element))));
  return { refresh };
}
