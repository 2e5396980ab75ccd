import { DEFAULT_AUTHENTICATION_TIMEOUT_SEC, DEFAULT_LISTEN } from './table.js';

/**
 * The token flags' --help text (get-token, setup, login, logout). Written by hand, for people: every flag of
 * table.ts that a person needs, in the order they need them; the defaults come from the table. It is the
 * source of docs/flags.md (scripts/gen-docs.mjs) and of completion's file flags (`=FILE`, `=DIR`), and
 * test/unit/flags-doc.test.ts checks it names only flags of the table, with their words from FLAG_VALUES.
 */
export const TOKEN_FLAGS_HELP = `Flags (the same names as kubelogin's):
  --oidc-issuer-url=URL            issuer URL, exactly as the issuer reports it (required)
  --oidc-client-id=ID              OAuth client ID (required)
  --oidc-client-secret-file=FILE   client secret of a confidential client, read from FILE
                                   (or KUBECTL_OIDC_CLIENT_SECRET; --oidc-client-secret=S works but ps shows it)
  --oidc-extra-scope=SCOPE         extra scope to request, e.g. email or groups; repeatable, or a,b
                                   ("openid" and "offline_access" are always requested)
  --no-offline-access              do not request offline_access (issuers that refuse it, e.g. Google)
  --grant-type=TYPE                auto (default), authcode, authcode-keyboard, device-code, password or
                                   client-credentials (a confidential client's own token; never a browser)
  --username=USER                  password grant: the user (the password: KUBECTL_OIDC_PASSWORD or a prompt)
  --oidc-auth-request-extra-params=KEY=VALUE   extra authorization request parameter; repeatable
  --session-name=NAME              a name for this session, to keep two accounts with otherwise equal flags apart
                                   (letters, digits and . _ - @ + :, at most 64; not sent to the issuer)
  --oidc-use-access-token          put the access token, not the ID token, in the credential
  --oidc-request-header=KEY=VALUE  HTTP header on every request to the issuer; repeatable
  --oidc-use-pkce                  always use PKCE S256, even if the issuer does not list it
  --insecure-skip-tls-verify       do not verify the issuer's certificate (a security risk; warned on every login)
  --certificate-authority=FILE     PEM CA that signs the issuer's certificate; repeatable
  --certificate-authority-data=B64 the same, base64-encoded PEM; repeatable
  --listen-address=HOST:PORT       loopback address for the login callback; repeatable
                                   (default ${DEFAULT_LISTEN.join(', then ')}; port 0 picks any)
  --oidc-redirect-url=URL          redirect URL registered at the issuer (default http://localhost:PORT)
  --skip-open-browser              print the login URL instead of opening a browser
  --browser-command=CMD            open the login URL with CMD (the URL is appended as the last argument)
  --authentication-timeout-sec=N   how long to wait for the browser login (default ${DEFAULT_AUTHENTICATION_TIMEOUT_SEC})
  --token-cache-dir=DIR            where token files live (default ~/.cache/kubectl-oidc)
  --token-cache-storage=MODE       auto (keyring if it works, else file), keyring, file or none
  --force-refresh                  refresh the ID token even if it is still valid
  --debug, -v1                     print stack traces and agent details on stderr
Every other kubelogin get-token flag is accepted as well (--oidc-pkce-method, --oidc-redirect-url-hostname,
--local-server-cert/-key, --open-url-after-authentication, --oidc-redirect-url-authcode-keyboard, --password, ...).
With provideClusterInfo: true, the issuer, client ID, scopes and CA may come from the cluster's exec
extension instead (see docs/multi-cluster.md).`;
