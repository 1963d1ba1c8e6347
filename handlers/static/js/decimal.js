// Exact sums of the API's decimal strings (BigInt scaled by the longest fraction), for client-side totals.

function parse(text) {
  const value = String(text ?? '0').trim() || '0';
  const negative = value.startsWith('-');
  const [whole, fraction = ''] = value.replace(/^[-+]/, '').split('.');
  return { digits: BigInt((whole || '0') + fraction) * (negative ? -1n : 1n), scale: fraction.length };
}

function render(digits, scale) {
  const negative = digits < 0n;
  let text = (negative ? -digits : digits).toString().padStart(scale + 1, '0');
  if (scale > 0) text = `${text.slice(0, -scale)}.${text.slice(-scale)}`;
  return (negative ? '-' : '') + text;
}

/** a + b, exactly, as a decimal string. */
export function add(a, b) {
  const x = parse(a);
  const y = parse(b);
  const scale = Math.max(x.scale, y.scale);
  const sum = x.digits * 10n ** BigInt(scale - x.scale) + y.digits * 10n ** BigInt(scale - y.scale);
  return render(sum, scale);
}

export function isZero(value) {
  return parse(value).digits === 0n;
}

/** value ÷ max as a number for a bar's length only (never shown as a figure). */
export function share(value, max) {
  const top = Number(max);
  return top > 0 ? Math.max(0, Number(value)) / top : 0;
}
