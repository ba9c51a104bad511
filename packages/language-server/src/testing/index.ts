// `@steer/language-server/testing`: a fixture project and in-process provider assertions for tests.
export {
  createFixtureProject,
  inMemoryCatalog,
  FIXTURE_TOPICS,
  type FixtureProject,
  type FixtureOptions,
} from './fixture.js';
export {
  CURSOR,
  documentWithCursor,
  expectCompletion,
  expectHover,
  expectDiagnostics,
  type CompletionExpectation,
} from './harness.js';
