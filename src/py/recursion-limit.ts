// Where CPython stops nesting, so that the ports reject exactly what the reference rejects and never
// overflow the JS stack. Reference: CPython 3.11.7 (the reference's python3, shared/docs/setup-notes.md),
// sys.getrecursionlimit() = 1000. Newer CPythons differ (3.12 counts C recursion separately, 3.14 measures
// the machine stack), so these numbers are tied to 3.11.
//
// json.loads (Modules/_json.c, scan_once_unicode): every `[` and `{` costs one unit of the recursion
// limit (_Py_EnterRecursiveCall " while decoding a JSON array|object from a unicode string"), from the
// same per-thread budget the Python frames use in 3.11 (tstate->recursion_remaining), plus one unit for
// calling the scanner object (_PyObject_MakeTpCall). So the deepest accepted nesting is
// 1000 - (Python frames on the stack, json's own three included) - 1. Measured on 3.11.7: called from
// module level (<module>, json.loads, JSONDecoder.decode, JSONDecoder.raw_decode = 4 frames) 995 levels
// parse and the 996th bracket raises RecursionError; each extra caller frame lowers the bound by one.
// The reference driver calls it as <module> -> main -> process_single_response -> parse_output ->
// json.loads -> decode -> raw_decode: 7 frames, so 992 levels parse and the 993rd raises. (The driver's
// call depth is the one modelled assumption; a driver with a different depth passes its own bound.)
//
// ast.literal_eval (ast.parse -> Parser/tokenizer.c): the tokenizer's MAXLEVEL = 200 raises
// SyntaxError "too many nested parentheses" at the 201st open bracket of `(`, `[` and `{` together,
// whatever the call depth. The PEG parser's own guard (MAXSTACK = 6000 rule levels) and the Python
// recursion of ast.literal_eval's _convert are never reached first: measured on 3.11.7, 200 levels
// still evaluate when literal_eval is called 700 frames deep.

/** CPython's default sys.getrecursionlimit(). */
export const PY_RECURSION_LIMIT = 1000;

/** Python frames on the stack while the reference driver's json.loads scans (see above). */
export const REFERENCE_JSON_CALL_FRAMES = 7;

/** Deepest `[`/`{` nesting json.loads accepts in the reference driver: 992. */
export const JSON_MAX_DEPTH = PY_RECURSION_LIMIT - REFERENCE_JSON_CALL_FRAMES - 1;

/** CPython tokenizer's MAXLEVEL: deepest bracket nesting any Python source (literal_eval, eval) may have. */
export const PY_TOKENIZER_MAX_BRACKET_LEVEL = 200;
