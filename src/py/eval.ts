// Python's eval(text) for what a model writes inside a tool call (DeepEyes evaluates the `<tool_call>` body with
// eval): literals, containers, unary +/-/~ and + - * / // % arithmetic, with CPython's exception types and texts —
// SyntaxError (tokenizer and parser messages, `(<string>, line N)`), NameError for JSON's true/false/null,
// TypeError/ZeroDivisionError from the arithmetic. Names the script's namespace would resolve (builtins, modules),
// calls, attributes, subscripts, comparisons and sets are outside the model and raise PyExpressionUnsupportedError.
// Depth-bounded: more than 200 open brackets is CPython's own "too many nested parentheses".
import { PyException, PyLiteralUnsupportedError } from './errors.js';
import { pyLiteralEval } from './literal-eval.js';
import { PY_TOKENIZER_MAX_BRACKET_LEVEL } from './recursion-limit.js';
import { PyDict, PyTuple, pyTypeName, type PyValue } from './value.js';

/** A construct eval() would run that this port does not model (the reference refuses such bodies too). */
export class PyExpressionUnsupportedError extends Error {
  constructor(what: string) {
    super(`python expression not supported by this port: ${what}`);
    this.name = 'PyExpressionUnsupportedError';
  }
}


type Tok =
  | { kind: 'num' | 'str' | 'name' | 'op'; text: string; pos: number; line: number }
  | { kind: 'end'; text: ''; pos: number; line: number };

type Node =
  | { t: 'const'; v: PyValue }
  | { t: 'name'; id: string }
  | { t: 'list' | 'tuple'; items: Node[] }
  | { t: 'dict'; keys: Node[]; values: Node[] }
  | { t: 'unary'; op: string; x: Node }
  | { t: 'binary'; op: string; a: Node; b: Node }
  | { t: 'unsupported'; what: string; before: Node[] };

const syntaxError = (msg: string, line: number): never => {
  throw new PyException('SyntaxError', `${msg} (<string>, line ${line})`);
};

const OPEN: Record<string, string> = { '(': ')', '[': ']', '{': '}' };
const CLOSE: Record<string, string> = { ')': '(', ']': '[', '}': '{' };
const OPS = ['**', '//', '==', '!=', '<=', '>=', '->', ':=', '+', '-', '*', '/', '%', '~', '<', '>', '(', ')', '[', ']', '{', '}', ',', ':', '.', ';', '@', '=', '|', '&', '^'];
const STRING_START = /[rRuUbBfF]{0,2}('''|"""|'|")/y;
const NUMBER = /(?:0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|(?:\d(?:_?\d)*)?\.\d(?:_?\d)*(?:[eE][+-]?\d(?:_?\d)*)?[jJ]?|\d(?:_?\d)*\.?(?:[eE][+-]?\d(?:_?\d)*)?[jJ]?)/y;
const NAME = /[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*/y;

/** Tokenizer-level errors come first, in source order, as in CPython. */
function tokenize(src: string): Tok[] {
  const toks: Tok[] = [];
  const stack: { ch: string; line: number }[] = [];
  let pos = 0;
  let line = 1;
  while (pos < src.length) {
    const ch = src[pos]!;
    if (ch === '\n') {
      line++;
      pos++;
      if (stack.length === 0) toks.push({ kind: 'op', text: '\n', pos: pos - 1, line: line - 1 });
      continue;
    }
    if (ch === ' ' || ch === '\t' || ch === '\f' || ch === '\r') {
      pos++;
      continue;
    }
    if (ch === '#') {
      while (pos < src.length && src[pos] !== '\n') pos++;
      continue;
    }
    if (ch === '\\' && src[pos + 1] === '\n') {
      pos += 2;
      line++;
      continue;
    }
    STRING_START.lastIndex = pos;
    const sm = STRING_START.exec(src);
    if (sm && /^(?:|[rRuUbBfF]|[bBrR]{2}|[fFrR]{2})$/.test(sm[0].slice(0, -sm[1]!.length))) {
      const q = sm[1]!;
      const startLine = line;
      let k = pos + sm[0].length;
      for (;;) {
        if (k >= src.length || (q.length === 1 && src[k] === '\n')) {
          if (q.length === 3) syntaxError(`unterminated triple-quoted string literal (detected at line ${line})`, startLine);
          syntaxError(`unterminated string literal (detected at line ${startLine})`, startLine);
        }
        if (src.startsWith(q, k)) {
          k += q.length;
          break;
        }
        if (src[k] === '\\') k++;
        if (src[k] === '\n') line++;
        k++;
      }
      toks.push({ kind: 'str', text: src.slice(pos, k), pos, line: startLine });
      pos = k;
      continue;
    }
    NUMBER.lastIndex = pos;
    const nm = /[0-9]/.test(ch) || (ch === '.' && /[0-9]/.test(src[pos + 1] ?? '')) ? NUMBER.exec(src) : null;
    if (nm) {
      const end = pos + nm[0].length;
      if (/[A-Za-z0-9_]/.test(src[end] ?? '')) syntaxError('invalid decimal literal', line);
      toks.push({ kind: 'num', text: nm[0], pos, line });
      pos = end;
      continue;
    }
    NAME.lastIndex = pos;
    const id = NAME.exec(src);
    if (id) {
      toks.push({ kind: 'name', text: id[0], pos, line });
      pos += id[0].length;
      continue;
    }
    const op = OPS.find((o) => src.startsWith(o, pos));
    if (!op) syntaxError(`invalid character '${ch}' (U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')})`, line);
    if (op! in OPEN) {
      if (stack.length >= PY_TOKENIZER_MAX_BRACKET_LEVEL) syntaxError('too many nested parentheses', line);
      stack.push({ ch: op!, line });
    } else if (op! in CLOSE) {
      const open = stack.pop();
      if (!open) syntaxError(`unmatched '${op}'`, line);
      if (open!.ch !== CLOSE[op!]) {
        const where = open!.line === line ? '' : ` on line ${open!.line}`;
        syntaxError(`closing parenthesis '${op}' does not match opening parenthesis '${open!.ch}'${where}`, line);
      }
    }
    toks.push({ kind: 'op', text: op!, pos, line });
    pos += op!.length;
  }
  if (stack.length) {
    const open = stack[stack.length - 1]!;
    syntaxError(`'${open.ch}' was never closed`, open.line);
  }
  toks.push({ kind: 'end', text: '', pos, line });
  return toks;
}

const EXPR_START = (t: Tok): boolean =>
  t.kind === 'num' || t.kind === 'str' || t.kind === 'name' || (t.kind === 'op' && ['(', '[', '{', '-', '+', '~'].includes(t.text));

class Parser {
  private i = 0;
  constructor(private readonly toks: Tok[]) {}

  private get tok(): Tok {
    return this.toks[this.i]!;
  }
  private is(text: string): boolean {
    return this.tok.kind === 'op' && this.tok.text === text;
  }
  private fail(): never {
    const t = this.tok;
    // CPython's hint when two expressions meet inside brackets.
    const prev = this.toks[this.i - 1];
    if (prev && EXPR_START(t) && !(t.kind === 'op' && ['-', '+', '~'].includes(t.text)) && this.inBrackets) {
      return syntaxError('invalid syntax. Perhaps you forgot a comma?', t.line);
    }
    return syntaxError('invalid syntax', t.line);
  }
  private inBrackets = false;

  parseEval(): Node {
    while (this.is('\n')) this.i++;
    if (this.tok.kind === 'end') syntaxError('invalid syntax', 0); // eval('') reports line 0
    const n = this.exprList();
    while (this.is('\n')) this.i++;
    if (this.tok.kind !== 'end') this.fail();
    return n;
  }

  /** expr (',' expr)* [','] -> a bare tuple when there is a comma. */
  private exprList(): Node {
    const first = this.expr();
    if (!this.is(',')) return first;
    const items = [first];
    while (this.is(',')) {
      this.i++;
      if (!EXPR_START(this.tok)) break;
      items.push(this.expr());
    }
    return { t: 'tuple', items };
  }

  private expr(): Node {
    if (this.tok.kind === 'name' && ['lambda', 'not', 'await', 'yield'].includes(this.tok.text)) {
      return { t: 'unsupported', what: `'${this.tok.text}' expression`, before: [] };
    }
    const a = this.arith();
    if (this.tok.kind === 'op' && ['<', '>', '==', '!=', '<=', '>=', '|', '&', '^', '@'].includes(this.tok.text)) {
      return { t: 'unsupported', what: `operator ${this.tok.text}`, before: [a] };
    }
    if (this.tok.kind === 'name' && ['if', 'and', 'or', 'in', 'is', 'not', 'for'].includes(this.tok.text)) {
      return { t: 'unsupported', what: `'${this.tok.text}'`, before: [a] };
    }
    return a;
  }

  private arith(): Node {
    let a = this.term();
    while (this.tok.kind === 'op' && (this.tok.text === '+' || this.tok.text === '-')) {
      const op = this.tok.text;
      this.i++;
      a = { t: 'binary', op, a, b: this.term() };
    }
    return a;
  }

  private term(): Node {
    let a = this.factor();
    while (this.tok.kind === 'op' && ['*', '/', '//', '%'].includes(this.tok.text)) {
      const op = this.tok.text;
      this.i++;
      a = { t: 'binary', op, a, b: this.factor() };
    }
    return a;
  }

  /** ('-'|'+'|'~')* power, where power = postfix ['**' factor]; iterative so a long chain cannot overflow the stack. */
  private factor(): Node {
    const unary: string[] = [];
    const bases: { unary: string[]; base: Node }[] = [];
    for (;;) {
      while (this.tok.kind === 'op' && ['-', '+', '~'].includes(this.tok.text)) {
        unary.push(this.tok.text);
        this.i++;
      }
      bases.push({ unary: unary.splice(0), base: this.postfix() });
      if (!this.is('**')) break;
      this.i++;
    }
    // a ** -b ** c: right-associative, each exponent with its own unary prefix.
    let acc: Node | null = null;
    for (let k = bases.length - 1; k >= 0; k--) {
      const { unary: ops, base } = bases[k]!;
      let node: Node = acc === null ? base : { t: 'binary', op: '**', a: base, b: acc };
      for (let u = ops.length - 1; u >= 0; u--) node = { t: 'unary', op: ops[u]!, x: node };
      acc = node;
    }
    return acc!;
  }

  private postfix(): Node {
    const a = this.atom();
    if (this.is('(') || this.is('[') || this.is('.')) {
      const what = this.is('(') ? 'call' : this.is('[') ? 'subscript' : 'attribute access';
      // Parse past it so that a later syntax error still wins over evaluation, as in CPython.
      this.skipTrailer();
      return { t: 'unsupported', what, before: [a] };
    }
    return a;
  }

  private skipTrailer(): void {
    while (this.is('(') || this.is('[') || this.is('.')) {
      if (this.is('.')) {
        this.i++;
        if (this.tok.kind !== 'name') this.fail();
        this.i++;
        continue;
      }
      let depth = 0;
      do {
        if (this.tok.kind === 'op' && this.tok.text in OPEN) depth++;
        else if (this.tok.kind === 'op' && this.tok.text in CLOSE) depth--;
        this.i++;
      } while (depth > 0);
    }
  }

  private atom(): Node {
    const t = this.tok;
    if (t.kind === 'num') {
      this.i++;
      return { t: 'const', v: literal(t.text) };
    }
    if (t.kind === 'str') {
      let v = '';
      while (this.tok.kind === 'str') {
        const s = literal(this.tok.text);
        if (typeof s !== 'string') throw new PyExpressionUnsupportedError('bytes literal');
        v += s;
        this.i++;
      }
      return { t: 'const', v };
    }
    if (t.kind === 'name') {
      this.i++;
      if (t.text === 'True') return { t: 'const', v: true };
      if (t.text === 'False') return { t: 'const', v: false };
      if (t.text === 'None') return { t: 'const', v: null };
      return { t: 'name', id: t.text };
    }
    if (t.kind === 'op' && t.text in OPEN) {
      this.i++;
      const outer = this.inBrackets;
      this.inBrackets = true;
      try {
        return t.text === '(' ? this.paren() : t.text === '[' ? this.list() : this.dict();
      } finally {
        this.inBrackets = outer;
      }
    }
    return this.fail();
  }

  private items(close: string): { items: Node[]; comma: boolean } {
    const items: Node[] = [];
    let comma = false;
    while (!this.is(close)) {
      items.push(this.expr());
      comma = false;
      if (this.is(',')) {
        this.i++;
        comma = true;
      } else if (!this.is(close)) this.fail();
    }
    this.i++;
    return { items, comma };
  }

  private paren(): Node {
    const { items, comma } = this.items(')');
    return items.length === 1 && !comma ? items[0]! : { t: 'tuple', items };
  }

  private list(): Node {
    return { t: 'list', items: this.items(']').items };
  }

  private dict(): Node {
    const keys: Node[] = [];
    const values: Node[] = [];
    if (this.is('}')) {
      this.i++;
      return { t: 'dict', keys, values };
    }
    let key = this.expr();
    if (!this.is(':')) {
      // A set display: parsed for syntax, then refused.
      let rest: Node[] = [];
      if (this.is(',')) {
        this.i++;
        rest = this.items('}').items;
      } else if (this.is('}')) this.i++;
      else this.fail();
      return { t: 'unsupported', what: 'set display', before: [key, ...rest] };
    }
    for (;;) {
      if (!this.is(':')) this.fail();
      this.i++;
      keys.push(key);
      values.push(this.expr());
      if (this.is(',')) {
        this.i++;
        if (this.is('}')) break;
        key = this.expr();
        continue;
      }
      if (!this.is('}')) this.fail();
      break;
    }
    this.i++;
    return { t: 'dict', keys, values };
  }
}

function literal(text: string): PyValue {
  try {
    return pyLiteralEval(text);
  } catch (e) {
    if (e instanceof PyLiteralUnsupportedError) throw new PyExpressionUnsupportedError(e.message.replace(/^.*: /, ''));
    throw e;
  }
}

/** Names eval_vstar.py's namespace defines: evaluating them would not raise NameError. */
const DEFINED_NAMES = new Set([
  'abs', 'all', 'any', 'bool', 'dict', 'float', 'int', 'len', 'list', 'max', 'min', 'print', 'range', 'round', 'set', 'sorted',
  'str', 'sum', 'tuple', 'type', 'zip', 'open', 'eval', 'exec', 'map', 'filter', 'enumerate', 'isinstance', 'object', 'id',
  'hash', 'input', 'iter', 'next', 'pow', 'repr', 'chr', 'ord', 'divmod', 'format', 'globals', 'locals', 'vars', 'dir', 'getattr',
  'setattr', 'hasattr', 'Exception', 'ValueError', 'TypeError', 'KeyError', 'NotImplemented', 'Ellipsis', '__name__',
  '__builtins__', 'json', 'os', 'math', 're', 'base64', 'Image', 'np', 'OpenAI', 'tqdm', 'argparse', 'random',
]);

/** Deeper expression trees (long operator chains) are refused like CPython's compiler refuses them. */
const MAX_EXPRESSION_DEPTH = 1000;

function evaluate(n: Node, depth = 0): PyValue {
  if (depth > MAX_EXPRESSION_DEPTH) throw new PyException('RecursionError', 'maximum recursion depth exceeded during compilation');
  const ev = (x: Node): PyValue => evaluate(x, depth + 1);
  switch (n.t) {
    case 'const':
      return n.v;
    case 'name':
      if (DEFINED_NAMES.has(n.id)) throw new PyExpressionUnsupportedError(`name '${n.id}' (defined in the script's namespace)`);
      throw new PyException('NameError', `name '${n.id}' is not defined`);
    case 'list':
      return n.items.map(ev);
    case 'tuple':
      return new PyTuple(n.items.map(ev));
    case 'dict': {
      const d = new PyDict();
      n.keys.forEach((k, i) => {
        const key = ev(k);
        const value = ev(n.values[i]!);
        if (Array.isArray(key) || key instanceof PyDict || (key instanceof PyTuple && !hashable(key))) {
          throw new PyException('TypeError', `unhashable type: '${pyTypeName(unhashablePart(key))}'`);
        }
        d.set(key, value);
      });
      return d;
    }
    case 'unary':
      return unary(n.op, ev(n.x));
    case 'binary':
      return pyBinary(n.op, ev(n.a), ev(n.b));
    case 'unsupported':
      n.before.forEach(ev);
      throw new PyExpressionUnsupportedError(n.what);
  }
}

function hashable(v: PyValue): boolean {
  if (Array.isArray(v) || v instanceof PyDict) return false;
  if (v instanceof PyTuple) return v.items.every(hashable);
  return true;
}
function unhashablePart(v: PyValue): PyValue {
  if (v instanceof PyTuple) return unhashablePart(v.items.find((x) => !hashable(x))!);
  return v;
}

const asInt = (v: PyValue): bigint | null => (typeof v === 'bigint' ? v : typeof v === 'boolean' ? (v ? 1n : 0n) : null);

function unary(op: string, v: PyValue): PyValue {
  const i = asInt(v);
  if (op === '~') {
    if (i === null) throw new PyException('TypeError', `bad operand type for unary ~: '${pyTypeName(v)}'`);
    return ~i;
  }
  if (i !== null) return op === '-' ? -i : i;
  if (typeof v === 'number') return op === '-' ? -v : v;
  throw new PyException('TypeError', `bad operand type for unary ${op}: '${pyTypeName(v)}'`);
}

/** Largest integer power evaluated, in bits (~39,000 decimal digits, far past int->str's 4300-digit limit). */
const MAX_POWER_BITS = 1n << 17n;

/** int // int and int % int with Python's floor semantics. */
function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return (a % b !== 0n && (a < 0n) !== (b < 0n)) ? q - 1n : q;
}

function toFloat(v: bigint | number): number {
  if (typeof v === 'number') return v;
  const f = Number(v);
  if (!Number.isFinite(f)) throw new PyException('OverflowError', 'int too large to convert to float');
  return f;
}

/** a <op> b for + - * / // % ** on Python values (what the evaluator models). */
export function pyBinary(op: string, a: PyValue, b: PyValue): PyValue {
  const ia = asInt(a);
  const ib = asInt(b);
  const na = ia ?? (typeof a === 'number' ? a : null);
  const nb = ib ?? (typeof b === 'number' ? b : null);
  if (na !== null && nb !== null) {
    if (ia !== null && ib !== null) {
      switch (op) {
        case '+': return ia + ib;
        case '-': return ia - ib;
        case '*': return ia * ib;
        case '/':
          if (ib === 0n) throw new PyException('ZeroDivisionError', 'division by zero');
          return toFloat(ia) / toFloat(ib);
        case '//':
          if (ib === 0n) throw new PyException('ZeroDivisionError', 'integer division or modulo by zero');
          return floorDiv(ia, ib);
        case '%':
          if (ib === 0n) throw new PyException('ZeroDivisionError', 'integer modulo by zero');
          return ia - floorDiv(ia, ib) * ib;
        case '**':
          if (ib < 0n) {
            if (ia === 0n) throw new PyException('ZeroDivisionError', '0.0 cannot be raised to a negative power');
            return toFloat(ia) ** toFloat(ib);
          }
          if (ia !== 0n && ia !== 1n && ia !== -1n) {
            // Bounded by the result's size, not only the exponent: (2**4096)**4096 took a second (npm run fuzz).
            const bits = BigInt((ia < 0n ? -ia : ia).toString(2).length);
            if (ib > 4096n || bits * ib > MAX_POWER_BITS) throw new PyExpressionUnsupportedError('integer power with a huge result');
          }
          return ia ** ib;
      }
    }
    const x = toFloat(na);
    const y = toFloat(nb);
    switch (op) {
      case '+': return x + y;
      case '-': return x - y;
      case '*': return x * y;
      case '/':
        if (y === 0) throw new PyException('ZeroDivisionError', 'float division by zero');
        return x / y;
      case '//':
        if (y === 0) throw new PyException('ZeroDivisionError', 'float floor division by zero');
        return Math.floor(x / y);
      case '%': {
        if (y === 0) throw new PyException('ZeroDivisionError', 'float modulo');
        const m = x % y;
        return m !== 0 && (m < 0) !== (y < 0) ? m + y : m;
      }
      case '**':
        if (x === 0 && y < 0) throw new PyException('ZeroDivisionError', '0.0 cannot be raised to a negative power');
        if (x < 0 && !Number.isInteger(y)) throw new PyExpressionUnsupportedError('complex result of a power');
        return x ** y;
      default:
        throw new PyExpressionUnsupportedError(`float operator ${op}`);
    }
  }
  if (op === '+' && typeof a === 'string' && typeof b === 'string') return a + b;
  if (op === '+' && Array.isArray(a) && Array.isArray(b)) return [...a, ...b];
  if (op === '+' && a instanceof PyTuple && b instanceof PyTuple) return new PyTuple([...a.items, ...b.items]);
  if (op === '*' || op === '%') throw new PyExpressionUnsupportedError(`operator ${op} on ${pyTypeName(a)} and ${pyTypeName(b)}`);
  if (op === '+' && typeof a === 'string') throw new PyException('TypeError', `can only concatenate str (not "${pyTypeName(b)}") to str`);
  if (op === '+' && Array.isArray(a)) throw new PyException('TypeError', `can only concatenate list (not "${pyTypeName(b)}") to list`);
  if (op === '+' && a instanceof PyTuple) throw new PyException('TypeError', `can only concatenate tuple (not "${pyTypeName(b)}") to tuple`);
  throw new PyException('TypeError', `unsupported operand type(s) for ${op}: '${pyTypeName(a)}' and '${pyTypeName(b)}'`);
}

/**
 * eval(source) of a Python expression (spaces and tabs before it are ignored, like eval does). Throws PyException
 * with CPython's type and text, or PyExpressionUnsupportedError.
 */
export function pyEval(source: string): PyValue {
  const text = source.replace(/^[ \t]+/, '');
  if (text.includes('\0')) throw new PyException('SyntaxError', 'source code string cannot contain null bytes');
  return evaluate(new Parser(tokenize(text)).parseEval());
}
