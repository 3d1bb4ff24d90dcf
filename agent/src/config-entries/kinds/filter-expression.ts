/**
 * Consul's filter expressions (hashicorp/go-bexpr), as service-resolver subsets use them:
 * `Service.Meta.version == v1`, `"canary" in Service.Tags`, `Service.Tags contains canary and not
 * (Node.Meta.zone == "b")`. The parser returns a syntax tree, so the data plane can evaluate it
 * against an instance; validation just parses.
 *
 * Grammar (go-bexpr's):
 *   expr     := and ("or" and)*
 *   and      := not ("and" not)*
 *   not      := "not" not | "(" expr ")" | match
 *   match    := selector ("==" | "!=") value
 *             | selector "is" ["not"] "empty"
 *             | value ["not"] "in" selector
 *             | selector ["not"] ("contains" | "matches") value
 *   selector := ident ("." ident | "[" string "]")*     (root: Service, Node or Checks)
 *   value    := "double" | `backquoted` | bare word (digits, letters, - _ . : /)
 */

/** A selector path such as ["Service", "Meta", "version"]. */
export type Selector = readonly string[];

/** The syntax tree. */
export type FilterExpr =
  | { op: 'and' | 'or'; left: FilterExpr; right: FilterExpr }
  | { op: 'not'; expr: FilterExpr }
  | { op: '==' | '!=' | 'contains' | 'not contains' | 'matches' | 'not matches' | 'in' | 'not in'; selector: Selector; value: string }
  | { op: 'is empty' | 'is not empty'; selector: Selector };

/** Selector roots an instance has (Consul's CheckServiceNode). */
export const FILTER_ROOTS = ['Service', 'Node', 'Checks'] as const;

/** A syntax error, with the offset where parsing stopped. */
export class FilterSyntaxError extends Error {
  constructor(message: string, readonly offset: number) {
    super(`${message} at offset ${offset}`);
    this.name = 'FilterSyntaxError';
  }
}

type Token = { kind: 'word' | 'string' | 'op' | 'paren'; text: string; at: number };

const WORD = /[A-Za-z0-9_\-.:/]/;

function tokenize(s: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
    } else if (c === '(' || c === ')' || c === '[' || c === ']') {
      out.push({ kind: 'paren', text: c, at: i++ });
    } else if (c === '=' || c === '!') {
      if (s[i + 1] !== '=') throw new FilterSyntaxError(`expected "${c}="`, i);
      out.push({ kind: 'op', text: `${c}=`, at: i });
      i += 2;
    } else if (c === '"' || c === '`') {
      const start = i++;
      let text = '';
      while (i < s.length && s[i] !== c) {
        if (c === '"' && s[i] === '\\' && i + 1 < s.length) i++;
        text += s[i++];
      }
      if (i >= s.length) throw new FilterSyntaxError('unterminated string', start);
      i++;
      out.push({ kind: 'string', text, at: start });
    } else if (WORD.test(c)) {
      const start = i;
      while (i < s.length && WORD.test(s[i]!)) i++;
      out.push({ kind: 'word', text: s.slice(start, i), at: start });
    } else {
      throw new FilterSyntaxError(`unexpected character ${JSON.stringify(c)}`, i);
    }
  }
  return out;
}

/** Parses a filter expression; throws FilterSyntaxError. */
export function parseFilterExpression(input: string): FilterExpr {
  if (input.length > 4096) throw new FilterSyntaxError('expression longer than 4096 characters', 0);
  const toks = tokenize(input);
  let pos = 0;
  const peek = (): Token | undefined => toks[pos];
  const isWord = (t: Token | undefined, w: string): boolean => t?.kind === 'word' && t.text === w;
  const end = (): number => (pos < toks.length ? toks[pos]!.at : input.length);

  const expr = (depth: number): FilterExpr => {
    if (depth > 32) throw new FilterSyntaxError('nested too deeply', end());
    let left = andExpr(depth);
    while (isWord(peek(), 'or')) {
      pos++;
      left = { op: 'or', left, right: andExpr(depth) };
    }
    return left;
  };
  const andExpr = (depth: number): FilterExpr => {
    let left = notExpr(depth);
    while (isWord(peek(), 'and')) {
      pos++;
      left = { op: 'and', left, right: notExpr(depth) };
    }
    return left;
  };
  const notExpr = (depth: number): FilterExpr => {
    const t = peek();
    if (isWord(t, 'not') && !isWord(toks[pos + 1], 'in')) {
      pos++;
      return { op: 'not', expr: notExpr(depth + 1) };
    }
    if (t?.kind === 'paren' && t.text === '(') {
      pos++;
      const e = expr(depth + 1);
      const close = peek();
      if (close?.kind !== 'paren' || close.text !== ')') throw new FilterSyntaxError('expected ")"', end());
      pos++;
      return e;
    }
    return match();
  };
  const value = (): string => {
    const t = peek();
    if (t === undefined || (t.kind !== 'word' && t.kind !== 'string')) throw new FilterSyntaxError('expected a value', end());
    pos++;
    return t.text;
  };
  const selector = (): Selector => {
    const t = peek();
    if (t?.kind !== 'word') throw new FilterSyntaxError('expected a selector such as Service.Meta.version', end());
    pos++;
    const parts = t.text.split('.');
    if (parts.some((p) => p === '')) throw new FilterSyntaxError('empty selector part', t.at);
    while (peek()?.kind === 'paren' && peek()!.text === '[') {
      pos++;
      const key = peek();
      if (key?.kind !== 'string') throw new FilterSyntaxError('expected a quoted key', end());
      pos++;
      const close = peek();
      if (close?.kind !== 'paren' || close.text !== ']') throw new FilterSyntaxError('expected "]"', end());
      pos++;
      parts.push(key.text);
    }
    if (!(FILTER_ROOTS as readonly string[]).includes(parts[0]!)) {
      throw new FilterSyntaxError(`selector must start with ${FILTER_ROOTS.join(', ')}, got ${JSON.stringify(parts[0])}`, t.at);
    }
    return parts;
  };
  const match = (): FilterExpr => {
    // "value in Selector" / "value not in Selector"
    const second = toks[pos + 1];
    if (isWord(second, 'in') || (isWord(second, 'not') && isWord(toks[pos + 2], 'in'))) {
      const v = value();
      const negate = isWord(peek(), 'not');
      pos += negate ? 2 : 1;
      return { op: negate ? 'not in' : 'in', selector: selector(), value: v };
    }
    const sel = selector();
    const t = peek();
    if (t?.kind === 'op') {
      pos++;
      return { op: t.text as '==' | '!=', selector: sel, value: value() };
    }
    if (isWord(t, 'is')) {
      pos++;
      const negate = isWord(peek(), 'not');
      if (negate) pos++;
      if (!isWord(peek(), 'empty')) throw new FilterSyntaxError('expected "empty"', end());
      pos++;
      return { op: negate ? 'is not empty' : 'is empty', selector: sel };
    }
    const negate = isWord(t, 'not');
    if (negate) pos++;
    const verb = peek();
    if (isWord(verb, 'contains') || isWord(verb, 'matches')) {
      pos++;
      const op = `${negate ? 'not ' : ''}${verb!.text}` as 'contains' | 'not contains' | 'matches' | 'not matches';
      const v = value();
      if (op.endsWith('matches')) {
        try {
          new RegExp(v);
        } catch (err) {
          throw new FilterSyntaxError(`invalid regular expression: ${(err as Error).message}`, verb!.at);
        }
      }
      return { op, selector: sel, value: v };
    }
    throw new FilterSyntaxError('expected ==, !=, is empty, contains, matches or in', end());
  };

  if (toks.length === 0) throw new FilterSyntaxError('empty expression', 0);
  const tree = expr(0);
  if (pos < toks.length) throw new FilterSyntaxError(`unexpected ${JSON.stringify(toks[pos]!.text)}`, toks[pos]!.at);
  return tree;
}
