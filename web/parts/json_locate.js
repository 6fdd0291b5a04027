// Where a JSON Pointer (RFC 6901) points in JSON text: the offsets of that value, or of the
// deepest existing ancestor when the pointer names something absent (a missing member is
// reported at its object). Lets the submit page show a server error at the offending field.

// Parses `text` into a tree of {start, end, children: Map(key -> node)}, or null if it is not
// JSON. Only positions are kept, not values.
function parse(text) {
  let i = 0;
  const ws = () => { while (i < text.length && ' \t\r\n'.includes(text[i])) i++; };
  const string = () => {
    const start = i++;
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    if (i >= text.length) throw new Error('unterminated string');
    i++;
    return JSON.parse(text.slice(start, i));
  };
  const value = () => {
    ws();
    const node = { start: i, end: i, children: new Map() };
    const c = text[i];
    if (c === '{') {
      i++; ws();
      if (text[i] === '}') { i++; node.end = i; return node; }
      for (;;) {
        ws();
        if (text[i] !== '"') throw new Error('expected a key');
        const keyStart = i;
        const key = string();
        ws();
        if (text[i++] !== ':') throw new Error('expected :');
        const child = value();
        child.keyStart = keyStart;
        node.children.set(key, child);
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i++] !== '}') throw new Error('expected , or }');
        break;
      }
    } else if (c === '[') {
      i++; ws();
      if (text[i] === ']') { i++; node.end = i; return node; }
      for (let k = 0; ; k++) {
        node.children.set(String(k), value());
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i++] !== ']') throw new Error('expected , or ]');
        break;
      }
    } else if (c === '"') {
      string();
    } else {
      const m = /^(-?\d+(\.\d+)?([eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i));
      if (!m) throw new Error('unexpected character');
      i += m[0].length;
    }
    node.end = i;
    return node;
  };
  try {
    const root = value();
    ws();
    return i === text.length ? root : null;
  } catch {
    return null;
  }
}

// {start, end, exact}: the span of the value at `pointer` (for a member, from its key), or of
// the deepest ancestor that exists (exact false). null when the text is not JSON.
export function locatePointer(text, pointer) {
  const root = parse(text);
  if (!root) return null;
  const tokens = pointer === '' ? [] : pointer.split('/').slice(1)
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
  let node = root;
  for (const t of tokens) {
    const next = node.children.get(t);
    if (!next) return { start: node.start, end: node.end, exact: false };
    node = next;
  }
  return { start: node.keyStart ?? node.start, end: node.end, exact: true };
}

// 1-based line of an offset.
export function lineOf(text, offset) {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text[i] === '\n') line++;
  return line;
}
