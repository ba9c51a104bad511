// The fixture project of a test file, built once per process, and the provider context the server derives
// from its steer.config.json (the same path the real server takes).
import { after } from 'node:test';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { DocumentContext } from '../../src/index.js';
import { SteerWorkspace } from '../../src/index.js';
import { createFixtureProject, type FixtureOptions, type FixtureProject } from '../../src/testing/index.js';

export interface TestProject {
  fixture: FixtureProject;
  workspace: SteerWorkspace;
  /** URI of a (not necessarily existing) .steer file in the project. */
  uri: string;
  context: DocumentContext;
}

let shared: Promise<TestProject> | undefined;

// NOTE: registered at the top level, so it runs after the whole file, not after the first test.
after(async () => {
  const project = await shared?.catch(() => undefined);
  await project?.workspace.dispose();
  await project?.fixture.dispose();
});

/** Builds the fixture project and opens its context through a SteerWorkspace; disposed after the file's tests. */
export function testProject(options: FixtureOptions = {}): Promise<TestProject> {
  shared ??= (async () => {
    const fixture = await createFixtureProject(options);
    const workspace = new SteerWorkspace({ env: {}, watchFiles: false });
    const uri = pathToFileURL(join(fixture.root, 'queries.steer')).href;
    const context = await workspace.contextFor(uri);
    await context.warmedUp; // the embedder (in its worker) and the dense scorer, for concept search
    return { fixture, workspace, uri, context };
  })();
  return shared;
}
