// End to end in a real editor: headless Neovim (0.7, Debian's) is the LSP client of `steer lsp --stdio` on a
// real .steer file and asks for diagnostics, completion and hover; a Lua script writes what it got to JSON.
// The script polls with vim.wait on conditions (no sleeps).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createFixtureProject } from '@steer/language-server/testing';
import { steerBin } from '../../src/run-cli.js';

const NVIM = process.env.STEER_NVIM ?? 'nvim';

const LUA_CLIENT = String.raw`
local file, out, bin, root = os.getenv('STEER_FILE'), os.getenv('STEER_OUT'), os.getenv('STEER_BIN'), os.getenv('STEER_ROOT')
local result = {}
local function finish(problem)
  if problem then result.error = tostring(problem) end
  local handle = io.open(out, 'w')
  handle:write(vim.fn.json_encode(result))
  handle:close()
  vim.cmd('qa!')
end
local ok, problem = pcall(function()
  vim.cmd('edit ' .. vim.fn.fnameescape(file))
  local bufnr = vim.api.nvim_get_current_buf()
  vim.api.nvim_buf_set_option(bufnr, 'filetype', 'steer')
  local uri = vim.uri_from_bufnr(bufnr)
  local published = nil
  local client_id = vim.lsp.start_client({
    name = 'steer',
    cmd = { os.getenv('STEER_NODE'), bin, 'lsp', '--stdio' },
    cmd_cwd = root,
    root_dir = root,
    handlers = {
      ['textDocument/publishDiagnostics'] = function(_, params)
        if params.uri == uri then published = params.diagnostics end
      end,
    },
  })
  assert(client_id, 'the language server did not start')
  vim.lsp.buf_attach_client(bufnr, client_id)
  local client = vim.lsp.get_client_by_id(client_id)
  assert(vim.wait(120000, function() return client.initialized and published ~= nil end, 20), 'no diagnostics arrived')
  result.diagnostics = {}
  for _, d in ipairs(published) do
    table.insert(result.diagnostics, { code = d.code, line = d.range.start.line, message = d.message })
  end
  local line1 = vim.api.nvim_buf_get_lines(bufnr, 1, 2, false)[1]
  local completion = client.request_sync('textDocument/completion',
    { textDocument = { uri = uri }, position = { line = 1, character = #line1 } }, 60000, bufnr)
  assert(completion and completion.result, 'no completion answer: ' .. vim.inspect(completion))
  local items = completion.result.items or completion.result
  result.completion = {}
  for _, item in ipairs(items) do table.insert(result.completion, item.label) end
  local line2 = vim.api.nvim_buf_get_lines(bufnr, 2, 3, false)[1]
  local hover = client.request_sync('textDocument/hover',
    { textDocument = { uri = uri }, position = { line = 2, character = string.find(line2, '+f', 1, true) + 1 } }, 60000, bufnr)
  assert(hover and hover.result, 'no hover answer: ' .. vim.inspect(hover))
  result.hover = hover.result.contents.value
  local formatting = client.request_sync('textDocument/formatting',
    { textDocument = { uri = uri }, options = { tabSize = 2, insertSpaces = true } }, 60000, bufnr)
  result.formattingEdits = formatting and formatting.result and #formatting.result or -1
  client.stop()
  result.stopped = vim.wait(10000, function() return client.is_stopped() end, 20)
end)
finish(not ok and problem or nil)
`;

function nvimAvailable(): boolean {
  return spawnSync(NVIM, ['--version'], { stdio: 'ignore' }).status === 0;
}

interface NeovimResult {
  error?: string;
  diagnostics: Array<{ code: string; line: number; message: string }>;
  completion: string[];
  hover: string;
  formattingEdits: number;
  stopped: boolean;
}

test(
  'Neovim as the LSP client gets diagnostics, completion and hover from steer lsp --stdio',
  { skip: nvimAvailable() ? false : `${NVIM} is not installed (apt-get install neovim)` },
  async () => {
    const fixture = await createFixtureProject();
    try {
      const file = join(fixture.root, 'queries.steer');
      await writeFile(
        file,
        [
          '# my queries',
          '"how students learn" +@lea',
          `"remote jobs"   +f${fixture.topics.career}*0.5 -@lerning`,
          '',
        ].join('\n'),
      );
      const script = join(fixture.root, 'client.lua');
      const out = join(fixture.root, 'nvim-result.json');
      await writeFile(script, LUA_CLIENT);
      const env = {
        ...process.env,
        STEER_FILE: file,
        STEER_OUT: out,
        STEER_BIN: steerBin,
        STEER_ROOT: fixture.root,
        STEER_NODE: process.execPath,
      };
      const code = await new Promise<number>((resolve, reject) => {
        const child = spawn(
          NVIM,
          ['--headless', '-u', 'NONE', '-i', 'NONE', '-n', '-c', `luafile ${script}`],
          {
            cwd: fixture.root,
            env,
            stdio: 'ignore',
          },
        );
        const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
        child.on('error', reject);
        child.on('close', (status) => {
          clearTimeout(timer);
          resolve(status ?? -1);
        });
      });
      assert.equal(code, 0, 'nvim exits cleanly');
      const result = JSON.parse(await readFile(out, 'utf8')) as NeovimResult;
      assert.equal(result.error, undefined, result.error);
      assert.deepEqual(
        result.diagnostics.map((d) => `${d.line}:${d.code}`),
        ['1:unknown-alias', '2:unknown-alias'],
      );
      assert.ok(result.completion.includes('learning'), result.completion.join(', '));
      assert.match(result.hover, new RegExp(`\\*\\*f${fixture.topics.career}\\*\\*`));
      assert.match(result.hover, /top documents:/);
      assert.equal(result.formattingEdits, 1, 'the badly spaced query gets one formatting edit');
      assert.equal(result.stopped, true);
    } finally {
      await fixture.dispose();
    }
  },
);
