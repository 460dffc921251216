// Python exceptions as the ports of CPython behaviour raise them (src/py/*).

/** A Python exception, carried as its class name and its `str(exception)` text. */
export class PyException extends Error {
  constructor(
    readonly pyType: string,
    message: string,
  ) {
    super(message);
    this.name = 'PyException';
  }
}

/** json.JSONDecodeError (a ValueError subclass); anything else thrown by pyJsonLoads is not one. */
export class PyJsonDecodeError extends PyException {
  constructor(
    readonly msg: string,
    readonly pos: number,
  ) {
    super('JSONDecodeError', `${msg}: char ${pos}`);
  }
}

/** A construct ast.literal_eval accepts but this port does not model (set, bytes, complex, \N{...}). */
export class PyLiteralUnsupportedError extends Error {
  constructor(what: string) {
    super(`python literal not supported by this port: ${what}`);
    this.name = 'PyLiteralUnsupportedError';
  }
}
