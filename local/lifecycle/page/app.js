// The lifecycle page: renders the connector's activity and follows it over server-sent events.
const SUCCEEDED = new Set(['Delivered', 'sent', 'acknowledged']);
const FAILED = new Set(['not_acknowledged', 'error', 'cancelled', 'timed_out']);

const text = (value) => document.createTextNode(value ?? '');
const time = (iso) => new Date(iso).toLocaleTimeString();

function element(name, attributes = {}, ...children) {
  const node = document.createElement(name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  node.append(...children);
  return node;
}

/** A table of the header's columns and these rows, in `root`; `empty` when there is no row. */
function renderTable(root, header, rows, empty) {
  if (rows.length === 0) {
    root.replaceChildren(element('div', { class: 'empty' }, text(empty)));
    return;
  }
  root.replaceChildren(
    element(
      'table',
      {},
      element(
        'thead',
        {},
        element('tr', {}, ...header.map((name) => element('th', {}, text(name)))),
      ),
      element('tbody', {}, ...rows),
    ),
  );
}

function badgeClass(downlink) {
  if (downlink.executionStatus === 'SUCCEEDED' && SUCCEEDED.has(downlink.state))
    return 'badge final-ok';
  if (downlink.executionStatus !== 'RUNNING' || FAILED.has(downlink.state))
    return 'badge final-failed';
  return 'badge';
}

function renderDownlinks(downlinks) {
  const body = document.querySelector('#downlinks tbody');
  if (downlinks.length === 0) {
    body.replaceChildren(
      element('tr', {}, element('td', { colspan: '6', class: 'empty' }, text('No downlink yet.'))),
    );
    return;
  }
  body.replaceChildren(
    ...downlinks.map((downlink) =>
      element(
        'tr',
        { 'data-execution': downlink.name, 'data-request-id': downlink.requestId ?? '' },
        element('td', {}, text(time(downlink.startedAt))),
        element('td', {}, element('code', {}, text(downlink.devEui ?? '?'))),
        element('td', {}, text(downlink.requestId ?? '')),
        element('td', {}, element('code', {}, text(downlink.downlinkId ?? ''))),
        element(
          'td',
          {},
          element(
            'span',
            { class: badgeClass(downlink), 'data-state': downlink.state },
            text(downlink.state),
          ),
        ),
        element(
          'td',
          {},
          element(
            'div',
            { class: 'timeline' },
            ...downlink.timeline.map((entry) =>
              element(
                'span',
                { class: `step kind-${entry.kind}`, title: entry.at },
                text(entry.name),
              ),
            ),
            ...(downlink.error
              ? [element('span', { class: 'step' }, text(`error: ${downlink.error}`))]
              : []),
          ),
        ),
      ),
    ),
  );
}

function renderNotifications(byDevice) {
  renderTable(
    document.querySelector('#notifications'),
    ['Device', 'Time', 'Type', 'Bytes', 'Body'],
    Object.entries(byDevice).flatMap(([device, notifications]) =>
      notifications.map((notification, index) =>
        element(
          'tr',
          {},
          element('td', {}, index === 0 ? element('code', {}, text(device)) : text('')),
          element('td', {}, text(time(notification.at))),
          element('td', {}, text(notification.type)),
          element('td', {}, text(String(notification.bytes))),
          element('td', {}, element('code', {}, text(notification.excerpt))),
        ),
      ),
    ),
    'No notification yet.',
  );
}

// Flat data as "name value" pairs; anything nested as its JSON.
function values(data) {
  if (data === undefined) return '';
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return JSON.stringify(data);
  return Object.entries(data)
    .map(
      ([name, value]) =>
        `${name} ${typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value)}`,
    )
    .join(' · ');
}

function renderDecoded(byDevice) {
  renderTable(
    document.querySelector('#decoded'),
    ['Device', 'Time', 'fcnt', 'Codec', 'Values', 'Warnings and errors'],
    Object.entries(byDevice ?? {}).map(([device, decoded]) =>
      element(
        'tr',
        { 'data-device': device },
        element('td', {}, element('code', {}, text(device))),
        element('td', {}, text(time(decoded.at))),
        element('td', {}, text(decoded.fcnt === undefined ? '' : String(decoded.fcnt))),
        element('td', {}, text(decoded.codec)),
        element('td', { class: 'decoded-values' }, text(values(decoded.data))),
        element(
          'td',
          {},
          ...decoded.errors.map((error) =>
            element('span', { class: 'badge final-failed' }, text(error)),
          ),
          ...decoded.warnings.map((warning) => element('span', { class: 'badge' }, text(warning))),
        ),
      ),
    ),
    'No decoded uplink yet: attach a codec.',
  );
}

function render(snapshot) {
  renderDownlinks(snapshot.downlinks);
  renderDecoded(snapshot.decoded);
  renderNotifications(snapshot.notifications);
}

const connection = document.querySelector('#connection');
const events = new EventSource('/_local/events');
events.onopen = () => {
  connection.textContent = 'live';
};
events.onerror = () => {
  connection.textContent = 'reconnecting…';
};
events.onmessage = (message) => render(JSON.parse(message.data));
