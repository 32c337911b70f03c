/* Who may call the AWS endpoint: a policy against web pages. A page the
 * user visits can send GET and simple POST requests to 127.0.0.1 (an
 * <img> tag, a text/plain fetch, a form), and a DNS-rebinding page can even
 * read the answers. SDKs, the CLI and curl send neither Sec-Fetch-Site nor
 * Origin and use a loopback or configured Host, so they pass unchanged.
 *
 * Refused, with 403 in the shape of the path's protocol:
 *   - Sec-Fetch-Site cross-site or same-site, unless the Origin is allowed;
 *   - an Origin that is not allowed (security.allowed_origins) and not the
 *     server's own;
 *   - on a loopback listener, a Host that is not a loopback address,
 *     localhost (or *.localhost) or in security.allowed_hosts;
 *   - on /_sluice/ admin paths, anything but GET/HEAD (reads) or a POST
 *     with a JSON content type, and, when security.admin_token is set, a
 *     POST without X-Sluice-Admin-Token equal to it. */
#ifndef SLUICE_GUARD_H
#define SLUICE_GUARD_H

#include <event2/http.h>

#include "core/config.h"

#define GUARD_TOKEN_HEADER "X-Sluice-Admin-Token"

/* Takes the policy from cfg (copied) for a listener bound to listen_host.
 * Call once at start-up; again replaces the policy. */
void guard_configure(const config_t *cfg, const char *listen_host);
/* Drops the policy (back to the defaults: no origins, no extra hosts, no
 * token, host checks on). */
void guard_reset(void);

/* 1 when host (an address or name, no port, no brackets) is a loopback
 * address or localhost. */
int guard_is_loopback(const char *host);

/* Checks req before dispatch. Returns 0 to go on, or 1 after answering
 * the refusal (the request is done). path: the decoded URI path. */
int guard_check(struct evhttp_request *req, const char *path);

#endif
