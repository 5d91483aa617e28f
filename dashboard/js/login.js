// Login page: translations come from common.js; this only moves focus sensibly and stops double submits.
'use strict';
document.addEventListener('DOMContentLoaded', () => {
  const user = document.getElementById('username');
  const pass = document.getElementById('password');
  if (user && pass && user.value) pass.focus();
  const form = document.getElementById('login-form');
  if (form) form.addEventListener('submit', () => {
    const b = form.querySelector('button[type="submit"]');
    if (b) setTimeout(() => { b.disabled = true; }, 0);
  });
});
