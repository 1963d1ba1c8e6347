// The incident's map: its regions outlined (county outlines shipped with the console, /static/data/outlines/<province>.json),
// its shelters, sites, calls' delivery points and tasks' areas on top, with occupancy and need on hover. Offline by
// default: without a tile server (RELIEF_MAP_TILES) nothing is fetched but the console's own files, and the map has a
// plain background. Leaflet (vendored) is loaded only when this tab opens.
import { t, tEnum, fmtNumber, fmtAmount } from '../i18n.js';
import { get, getAll } from '../api.js';
import { h } from '../dom.js';
import { siteName } from './sites.js';

const LEAFLET = '../../vendor/leaflet/leaflet-src.esm.js';
const LEAFLET_CSS = '/static/vendor/leaflet/leaflet.css';
const CHINA = { center: [35, 105], zoom: 4 };
const outlines = new Map(); // province prefix → its FeatureCollection (promise), kept across visits

function leafletCss() {
  const found = document.querySelector(`link[href="${LEAFLET_CSS}"]`);
  if (found) return Promise.resolve();
  return new Promise((resolve) => {
    const link = h('link', { rel: 'stylesheet', href: LEAFLET_CSS });
    link.addEventListener('load', resolve);
    link.addEventListener('error', resolve); // an unstyled map still shows its data
    document.head.append(link);
  });
}

function provinceOutlines(prefix) {
  if (!outlines.has(prefix)) {
    outlines.set(prefix, fetch(`/static/data/outlines/${prefix}.json`, { credentials: 'same-origin' })
      .then((response) => (response.ok ? response.json() : { features: [] }))
      .catch(() => { outlines.delete(prefix); return { features: [] }; }));
  }
  return outlines.get(prefix);
}

/** 320000 → "32" (a province), 320500 → "3205" (a city), 320505 → itself (a county): the codes it covers start so. */
function coverPrefix(code) {
  return String(code).replace(/(00)+$/, '');
}

/** "31.07,120.36" → [31.07, 120.36] (CAP order: latitude first). */
function latLon(pair) {
  const [lat, lon] = pair.split(',').map(Number);
  return [lat, lon];
}

function tip(...lines) {
  return h('div', { class: 'map-tip' }, lines.filter(Boolean).map((line, i) => h(i ? 'div' : 'strong', { text: line })));
}

function taskLayer(L, task) {
  const area = task.area || {};
  const style = { className: `map-task task-${task.status}`, color: '#7b3fa0', weight: 2, fillOpacity: 0.15 };
  if (area.point) return L.circleMarker(latLon(area.point), { ...style, radius: 6, fillOpacity: 0.8 });
  if (area.circle) {
    const [center, km] = area.circle.split(' ');
    return L.circle(latLon(center), { ...style, radius: Number(km) * 1000 });
  }
  if (area.polygon) return L.polygon(area.polygon.split(' ').map(latLon), style);
  return null;
}

function shelterColor(shelter) {
  if (shelter.status === 'closed') return '#7a7a7a';
  if (shelter.occupancy >= shelter.capacity) return '#b3261e';
  return shelter.occupancy >= shelter.capacity * 0.9 ? '#c77700' : '#1d6f42';
}

async function loadMarkers(incident) {
  const base = `/v1/incidents/${incident.id}`;
  const [shelters, sites, calls, tasks] = await Promise.all([
    getAll(`${base}/shelters`, {}, 5), getAll(`${base}/sites`, {}, 5), getAll(`${base}/calls`, {}, 5),
    getAll(`${base}/tasks`, {}, 5),
  ]);
  return { shelters, sites, calls, tasks };
}

function drawMarkers(L, group, data) {
  group.clearLayers();
  const placed = [];
  const unplaced = { shelters: 0, sites: 0, calls: 0 };
  for (const shelter of data.shelters) {
    if (!shelter.location) { unplaced.shelters += 1; continue; }
    const at = [shelter.location.lat, shelter.location.lon];
    placed.push(at);
    L.circleMarker(at, { className: 'map-shelter', radius: 8, color: '#fff', weight: 2, fillColor: shelterColor(shelter),
      fillOpacity: 0.95 })
      .bindTooltip(tip(shelter.name, t('map.occupancy', { n: fmtNumber(shelter.occupancy), capacity: fmtNumber(shelter.capacity) }),
        tEnum('shelter_status', shelter.status)))
      .addTo(group);
  }
  for (const site of data.sites) {
    if (!site.location) { unplaced.sites += 1; continue; }
    const at = [site.location.lat, site.location.lon];
    placed.push(at);
    L.circleMarker(at, { className: 'map-site', radius: 6, color: '#fff', weight: 2, fillColor: '#1f5fa8', fillOpacity: 0.95 })
      .bindTooltip(tip(siteName(site), tEnum('site_kind', site.kind), site.address)).addTo(group);
  }
  for (const call of data.calls) {
    const place = call.deliver_to;
    if (!place) continue;
    if (place.lat === null || place.lat === undefined) { unplaced.calls += 1; continue; }
    const at = [place.lat, place.lon];
    placed.push(at);
    L.circleMarker(at, { className: 'map-call', radius: 6, color: '#fff', weight: 2, fillColor: '#c2410c', fillOpacity: 0.95 })
      .bindTooltip(tip(call.title, t('map.need', { remaining: fmtAmount(call.remaining, call), requested: fmtAmount(call.requested, call) }),
        place.address, tEnum('call_status', call.status)))
      .addTo(group);
  }
  for (const task of data.tasks) {
    const layer = taskLayer(L, task);
    if (!layer) continue;
    layer.bindTooltip(tip(task.title, task.area.description, tEnum('task_status', task.status))).addTo(group);
    placed.push(layer.getLatLng ? layer.getLatLng() : layer.getBounds().getCenter());
  }
  return { placed, unplaced };
}

async function drawRegions(L, map, incident) {
  const codes = incident.regions || [];
  const prefixes = [...new Set(codes.map((code) => String(code).slice(0, 2)))];
  const collections = await Promise.all(prefixes.map(provinceOutlines));
  const features = collections.flatMap((c) => c.features || []);
  const covers = codes.map((code) => [code, coverPrefix(code)]);
  const context = [];
  const regions = L.featureGroup();
  const missing = new Set(codes);
  for (const feature of features) {
    const code = feature.properties.code;
    const hit = covers.find(([, prefix]) => code.startsWith(prefix));
    if (!hit) { context.push(feature); continue; }
    missing.delete(hit[0]);
    L.geoJSON(feature, { className: `map-region region-${hit[0]}`, color: '#b3261e', weight: 2, fillColor: '#f2b8b5',
      fillOpacity: 0.35 })
      .bindTooltip(tip(feature.properties.name, code)).addTo(regions);
  }
  // The rest of the province(s), faintly: where the regions are, without any base map.
  L.geoJSON({ type: 'FeatureCollection', features: context }, { className: 'map-context', color: '#8a96a3', weight: 1,
    fillColor: '#ffffff', fillOpacity: 0.6, interactive: false }).addTo(map);
  regions.addTo(map);
  return { regions, missing: [...missing] };
}

function notes(unplaced, missing) {
  return [
    missing.length > 0 && t('map.noOutline', { codes: missing.join(' ') }),
    unplaced.shelters > 0 && t('map.unplacedShelters', { n: fmtNumber(unplaced.shelters), count: unplaced.shelters }),
    unplaced.sites > 0 && t('map.unplacedSites', { n: fmtNumber(unplaced.sites), count: unplaced.sites }),
    unplaced.calls > 0 && t('map.unplacedCalls', { n: fmtNumber(unplaced.calls), count: unplaced.calls }),
  ].filter(Boolean).map((text) => h('li', { text }));
}

function legend() {
  return h('ul', { class: 'map-legend', 'aria-label': t('map.legend') },
    ['region', 'shelter', 'site', 'call', 'task'].map((kind) =>
      h('li', {}, h('span', { class: `swatch swatch-${kind}`, 'aria-hidden': 'true' }), t(`map.kind.${kind}`))));
}

export async function mount(ctx) {
  const { incident } = ctx;
  const [L, config] = await Promise.all([import(LEAFLET), get('/console/config').catch(() => ({})), leafletCss()]);
  const tiles = config.map_tiles || null;
  const canvas = h('div', { class: 'map-canvas', role: 'region', 'aria-label': t('map.aria', { title: incident.title }),
    dataset: { tiles: tiles ? 'on' : 'off' } });
  const noteList = h('ul', { class: 'map-notes' });
  ctx.root.append(h('section', { class: 'incident-map', 'aria-labelledby': 'map-heading' },
    h('h2', { id: 'map-heading', text: t('map.heading') }),
    h('p', { class: 'meta', text: tiles ? t('map.tiles') : t('map.offline') }),
    canvas, legend(), noteList,
    h('p', { class: 'map-attribution' },
      tiles?.attribution ? `${tiles.attribution} · ` : '', t('map.source'), ' · Leaflet')));
  const map = L.map(canvas, { attributionControl: false, zoomControl: false, zoomSnap: 0.25, ...CHINA });
  L.control.zoom({ zoomInTitle: t('map.zoomIn'), zoomOutTitle: t('map.zoomOut') }).addTo(map);
  if (tiles) {
    // Only what the deployment named; tiles get the page's origin as referrer (天地图's browser keys check it).
    L.tileLayer(tiles.url, { subdomains: tiles.subdomains, maxZoom: 18, referrerPolicy: 'strict-origin' }).addTo(map);
  }
  const { regions, missing } = await drawRegions(L, map, incident);
  const markers = L.featureGroup().addTo(map);
  let fitted = false;
  async function refresh() {
    const { placed, unplaced } = drawMarkers(L, markers, await loadMarkers(incident));
    noteList.replaceChildren(...notes(unplaced, missing));
    if (fitted) return;
    fitted = true;
    const bounds = L.latLngBounds(placed);
    if (regions.getLayers().length) bounds.extend(regions.getBounds());
    if (bounds.isValid()) map.fitBounds(bounds, { padding: [24, 24], maxZoom: 14 });
  }
  await refresh();
  canvas.dataset.drawn = 'true'; // outlines and markers are on (the browser test waits for this)
  return { refresh, unmount() { map.remove(); } };
}
