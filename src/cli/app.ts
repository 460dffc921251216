// `vilavt app`: the chat app in its own window. The engine runs in this Node process behind `vilavt serve` on a
// free loopback port; the page (the browser app, built in memory) drives it through the app protocol
// (`?engine=remote`). The window is the installed Chrome/Chromium in app mode (`--app=URL`) with a dedicated
// profile under the user's data folder; closing it stops the server. A second `vilavt app` finds the running one
// (app.json in the data folder) and opens another window on it. Without a Chromium the URL is printed.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { appSite } from './app-site.js';
import { CliError, UsageError } from './fail.js';
import { intOption as int, parseCommand } from './args.js';
import { parseServeArgs } from './serve.js';

const USAGE = `usage: vilavt app --model DIR [--f16] [--context N] [--port N] [--browser PATH]
  Opens the chat app in its own Chrome/Chromium window; the engine runs in this process (vilavt serve on 127.0.0.1).
  --port N           server port (default 0: a free one)
  --browser PATH     the Chrome/Chromium executable (default: VILAVT_BROWSER, then google-chrome, chromium, ... on PATH)
  Environment: VILAVT_DATA_DIR (default: the user's data folder + /vilavt) holds the window's profile and app.json;
  VILAVT_APP_BROWSER_ARGS adds browser arguments (space-separated).`;

/** Where the app keeps its browser profile and the running instance's address. */
export function appDataDir(): string {
  if (process.env.VILAVT_DATA_DIR) return resolve(process.env.VILAVT_DATA_DIR);
  if (process.platform === 'win32') return join(process.env.LOCALAPPDATA ?? join(homedir(), 'AppData', 'Local'), 'vilavt');
  if (process.platform === 'darwin') return join(homedir(), 'Library', 'Application Support', 'vilavt');
  return join(process.env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share'), 'vilavt');
}

interface RunningApp {
  pid: number;
  url: string;
  model: string;
}

const BROWSERS: Record<string, string[]> = {
  linux: ['google-chrome', 'google-chrome-stable', 'chromium', 'chromium-browser', 'chrome', 'microsoft-edge'],
  darwin: ['/Applications/Google Chrome.app/Contents/MacOS/Google Chrome', '/Applications/Chromium.app/Contents/MacOS/Chromium', '/Applications/Microsoft Edge.app/Contents/MacOS/Microsoft Edge'],
  win32: [
    join(process.env.PROGRAMFILES ?? 'C:\\Program Files', 'Google', 'Chrome', 'Application', 'chrome.exe'),
    join(process.env['PROGRAMFILES(X86)'] ?? 'C:\\Program Files (x86)', 'Google', 'Chrome', 'Application', 'chrome.exe'),
    join(process.env.LOCALAPPDATA ?? '', 'Google', 'Chrome', 'Application', 'chrome.exe'),
    join(process.env['PROGRAMFILES(X86)'] ?? 'C:\\Program Files (x86)', 'Microsoft', 'Edge', 'Application', 'msedge.exe'),
  ],
};

const executable = (p: string) => {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/** The Chrome/Chromium to open the window with, or null. */
export function findBrowser(explicit?: string): string | null {
  const given = explicit ?? process.env.VILAVT_BROWSER;
  if (given) return executable(given) ? given : null;
  for (const c of BROWSERS[process.platform] ?? BROWSERS.linux!) {
    if (c.includes('/') || c.includes('\\')) {
      if (executable(c)) return c;
      continue;
    }
    for (const dir of (process.env.PATH ?? '').split(delimiter)) if (dir && executable(join(dir, c))) return join(dir, c);
  }
  return null;
}

function openWindow(browser: string, url: string, profile: string): ChildProcess {
  const args = [`--app=${url}`, `--user-data-dir=${profile}`, '--no-first-run', '--no-default-browser-check', '--window-size=1280,900'];
  // Chromium refuses to run as root with its sandbox; --test-type drops the warning bar about it.
  if (process.getuid?.() === 0) args.push('--no-sandbox', '--test-type');
  args.push(...(process.env.VILAVT_APP_BROWSER_ARGS ?? '').split(' ').filter(Boolean));
  return spawn(browser, args, { stdio: 'ignore' });
}

/** The running app recorded in app.json, when its process is alive and its server answers. */
async function runningApp(file: string): Promise<RunningApp | null> {
  let r: RunningApp;
  try {
    r = JSON.parse(readFileSync(file, 'utf8')) as RunningApp;
    process.kill(r.pid, 0);
  } catch {
    return null;
  }
  const ok = await fetch(`${r.url}/health`, { signal: AbortSignal.timeout(2000) }).then((x) => x.ok, () => false);
  return ok ? r : null;
}

export async function appMain(argv: string[]): Promise<number> {
  const parsed = parseCommand({
    args: argv,
    options: { model: { type: 'string' }, f16: { type: 'boolean' }, context: { type: 'string' }, port: { type: 'string' }, browser: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  }, USAGE);
  if (!parsed) return 0;
  const v = parsed.values;
  if (!v.model) throw new UsageError(`--model DIR is required\n${USAGE}`);
  if (!(await stat(v.model).catch(() => null))?.isDirectory()) throw new CliError(`model directory not found: ${v.model}`);
  const model = await realpath(v.model);
  const dataDir = appDataDir();
  const profile = join(dataDir, 'chromium-profile');
  const stateFile = join(dataDir, 'app.json');
  mkdirSync(dataDir, { recursive: true });
  const browser = findBrowser(v.browser);
  if (v.browser && !browser) throw new CliError(`--browser: not an executable: ${v.browser}`);

  const running = await runningApp(stateFile);
  if (running) {
    if (running.model !== model) throw new CliError(`vilavt app is already running with ${running.model} at ${running.url}: close its window first`);
    const url = `${running.url}/?engine=remote`;
    if (browser) {
      await new Promise<void>((done) => openWindow(browser, url, profile).once('exit', () => done()).once('error', () => done()));
      console.log(`app: already running at ${running.url}; opened another window`);
    } else console.log(`app: already running; open ${url} in a browser`);
    return 0;
  }

  const site = await appSite();
  const args = await parseServeArgs(['--model', model, '--port', String(int('port', v.port, 0, 0)), ...(v.f16 ? ['--f16'] : []), ...(v.context ? ['--context', v.context] : [])]);
  const { startServer } = await import('../server/start.js');
  const server = await startServer(args!, { site });
  const url = `${server.url}/?engine=remote`;
  writeFileSync(stateFile, JSON.stringify({ pid: process.pid, url: server.url, model } satisfies RunningApp));
  console.log(`app: serving ${server.url}`);
  let window: ChildProcess | null = null;
  try {
    await new Promise<void>((done) => {
      const stop = () => {
        window?.kill();
        done();
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      if (!browser) {
        console.log(`app: no Chrome or Chromium found (set --browser or VILAVT_BROWSER): open ${url} in a browser; Ctrl-C stops the server`);
        return;
      }
      window = openWindow(browser, url, profile);
      window.once('error', (e) => {
        console.log(`app: could not start ${browser} (${e.message}): open ${url} in a browser; Ctrl-C stops the server`);
        window = null;
      });
      window.once('exit', () => {
        if (window) {
          console.log('app: the window was closed; stopping the server');
          done();
        }
      });
      console.log(`app: opened a window (${browser})`);
    });
  } finally {
    rmSync(stateFile, { force: true });
    await server.close();
  }
  return 0;
}
