// Calibration (admins only): one redacted still per camera.
'use strict';
(() => {
  const { t, h, fill, empty } = K;
  let cams = [];
  let stamp = Date.now();

  function render() {
    if (!cams.length) { fill('cal-stills', empty('cal.none')); return; }
    fill('cal-stills', cams.map((c) => h('figure', { class: 'card' },
      h('img', { class: 'snapshot', src: '/api/dash/calibration/' + encodeURIComponent(c) + '/still?t=' + stamp, alt: t('cal.alt', { camera: c }), width: 640, height: 360 }),
      h('figcaption', null, c))));
  }

  K.page({
    async load() {
      cams = (await K.api('/api/dash/calibration')).stills || [];
      stamp = Date.now();
    },
    render,
  });
})();
