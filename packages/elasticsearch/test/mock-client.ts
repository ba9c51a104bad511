// Test helper: a Client wired to @elastic/elasticsearch-mock.
import { Client } from '@elastic/elasticsearch';
import type { ClientOptions } from '@elastic/elasticsearch';
import MockModule from '@elastic/elasticsearch-mock';
import type { MockPattern, ResolverFn } from '@elastic/elasticsearch-mock';

// NOTE: the mock is CommonJS (`module.exports = ClientMock`) but its types declare an ES default export, so under
// NodeNext the default import is typed as the module namespace; at run time it is the class itself.
const ClientMock = MockModule as unknown as typeof MockModule.default;

/** The mock's registration surface. */
export interface ClientMockLike {
  add(
    pattern: MockPattern,
    resolver: (params: MockPattern) => ReturnType<ResolverFn> | Error,
  ): ClientMockLike;
}

/** A Client whose requests are answered by the returned mock's resolvers. */
export function createMockClient(options: ClientOptions = {}): { mock: ClientMockLike; client: Client } {
  const mock = new ClientMock();
  const client = new Client({ node: 'http://localhost:9200', Connection: mock.getConnection(), ...options });
  return { mock: mock as unknown as ClientMockLike, client };
}
