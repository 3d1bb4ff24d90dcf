/**
 * Finds where JSON text first breaks the grammar, as `line,col` and a short reason. V8's JSON.parse
 * messages on Node 20 often carry no position and quote a slice of the input (which may hold a key),
 * so config errors use this scanner instead. It only validates; JSON.parse still does the parsing.
 */

/** The first syntax error in `text`, or undefined when it is valid JSON. */
export function findJsonError(text: string): { offset: number; reason: string } | undefined {
  const s = new Scanner(text);
  try {
    s.ws();
    s.value();
    s.ws();
    if (s.i < text.length) s.fail('unexpected content after the JSON value');
    return undefined;
  } catch (err) {
    if (err instanceof JsonSyntax) return { offset: err.offset, reason: err.message };
    throw err;
  }
}

/** `line,col` (1-based) of a character offset. */
export function lineCol(text: string, offset: number): string {
  let line = 1;
  let col = 1;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text[i] === '\n') {
      line++;
      col = 1;
    } else {
      col++;
    }
  }
  return `${line},${col}`;
}

class JsonSyntax extends Error {
  constructor(readonly offset: number, message: string) {
    super(message);
  }
}

/** Depth bound so a hostile `[[[[...` cannot overflow the stack. */
const MAX_DEPTH = 512;

class Scanner {
  i = 0;
  private depth = 0;

  constructor(private readonly t: string) {}

  fail(reason: string): never {
    throw new JsonSyntax(this.i, reason);
  }

  ws(): void {
    while (this.i < this.t.length && ' \t\r\n'.includes(this.t[this.i]!)) this.i++;
  }

  value(): void {
    const c = this.t[this.i];
    if (c === undefined) this.fail('unexpected end of input, expected a value');
    if (c === '{') return this.nested(() => this.object());
    if (c === '[') return this.nested(() => this.array());
    if (c === '"') return this.string();
    if (c === '-' || (c >= '0' && c <= '9')) return this.number();
    for (const lit of ['true', 'false', 'null']) {
      if (this.t.startsWith(lit, this.i)) {
        this.i += lit.length;
        return;
      }
    }
    this.fail(`unexpected ${describe(c)}, expected a value`);
  }

  private nested(fn: () => void): void {
    if (++this.depth > MAX_DEPTH) this.fail('nesting too deep');
    fn();
    this.depth--;
  }

  private object(): void {
    this.i++;
    this.ws();
    if (this.t[this.i] === '}') {
      this.i++;
      return;
    }
    for (;;) {
      this.ws();
      if (this.t[this.i] !== '"') this.fail(`unexpected ${describe(this.t[this.i])}, expected a property name in double quotes`);
      this.string();
      this.ws();
      if (this.t[this.i] !== ':') this.fail(`unexpected ${describe(this.t[this.i])}, expected ':'`);
      this.i++;
      this.ws();
      this.value();
      this.ws();
      const c = this.t[this.i];
      if (c === '}') {
        this.i++;
        return;
      }
      if (c !== ',') this.fail(`unexpected ${describe(c)}, expected ',' or '}'`);
      this.i++;
    }
  }

  private array(): void {
    this.i++;
    this.ws();
    if (this.t[this.i] === ']') {
      this.i++;
      return;
    }
    for (;;) {
      this.ws();
      this.value();
      this.ws();
      const c = this.t[this.i];
      if (c === ']') {
        this.i++;
        return;
      }
      if (c !== ',') this.fail(`unexpected ${describe(c)}, expected ',' or ']'`);
      this.i++;
    }
  }

  private string(): void {
    this.i++;
    for (;;) {
      const c = this.t[this.i];
      if (c === undefined) this.fail('unterminated string');
      if (c === '"') {
        this.i++;
        return;
      }
      if (c < ' ') this.fail('control character in string');
      if (c === '\\') {
        const e = this.t[this.i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(this.t.slice(this.i + 2, this.i + 6))) this.fail('bad \\u escape');
          this.i += 6;
          continue;
        }
        if (e === undefined || !'"\\/bfnrt'.includes(e)) this.fail('bad escape in string');
        this.i += 2;
        continue;
      }
      this.i++;
    }
  }

  private number(): void {
    const m = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(this.t.slice(this.i, this.i + 400));
    if (m === null) this.fail('malformed number');
    this.i += m[0].length;
  }
}

function describe(c: string | undefined): string {
  return c === undefined ? 'end of input' : `'${c}'`;
}
