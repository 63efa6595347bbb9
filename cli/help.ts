/** The text printed by `help`. */

/** Usage of every command, as printed by `relay help`. */
export const USAGE = `Usage: relay COMMAND [--config FILE]

Domains (hosted: accepted inbound, and the domains accounts belong to):
  domain add DOMAIN [--destination HOST:PORT] [--greylist] [--postmaster ADDRESS]
  domain set DOMAIN [--destination HOST:PORT] [--greylist true|false] [--postmaster ADDRESS]
  domain list
  domain show DOMAIN                  JSON, with greylisting overrides and recipients
  domain delete DOMAIN                refused while accounts use the domain

  add and set also take, per domain ("default" drops an override; "" clears a list):
      [--recipient ADDRESS]...        valid recipients; others get 550 5.1.1
      [--greylist-delay 5m] [--greylist-retry-window 2d] [--greylist-pass-lifetime 35d]
      [--greylist-max-retries N] [--greylist-auto-whitelist N]
      [--greylist-subnet|--greylist-normalize-sender|--greylist-header|--greylist-privacy
       true|false] [--greylist-allow-client IP|CIDR]... [--greylist-allow-recipient ADDRESS]...
      [--greylist-defaults]           drop every greylisting override of the domain

Greylisting data table (per domain, shared by every node):
  greylist list DOMAIN                id, client, sender, recipient, seen, passes, fails, state
  greylist delete DOMAIN ID|IP SENDER RCPT
                                      forget one triplet (SENDER "<>" for bounces)
  greylist clear DOMAIN               forget every triplet and auto-whitelisted client

Submission accounts:
  account add --type single|any|server --login LOCAL@DOMAIN --password PW
  account set LOGIN [--password PW] [--enabled true|false]
      [--ipv4 FILTER] [--ipv6 FILTER] [--alt-ipv4 FILTER] [--alt-ipv6 FILTER]
      [--bcc ADDRESS]... [--mirror ADDRESS]... [--identities true|false]
      [--subdomains true|false] [--errors auto|always-5xx]
      [--level personal|personal-plus|standard|professional|enterprise]
      [--postmaster ADDRESS] [--limit-WHAT-WHEN N|default]...
  account list
  account show LOGIN                  JSON, without the password hash; usage against
                                      limits, health counts, why it was disabled
  account enable LOGIN                enable again, clear the reason, start counts afresh
  account delete LOGIN

  FILTER is an IP, a CIDR or a host name; "" clears it. --bcc and --mirror
  repeat to give several addresses; --bcc "" clears the list.
  --limit-WHAT-WHEN overrides the level's usage limit: WHAT is messages,
  recipients or bytes (K, M, G, T suffixes), WHEN is hour, day or month;
  --limit-recipients-message caps one message. "default" restores the level's.

DKIM signing keys (mail from an account or a DSN is signed for its From domain
or the closest parent domain with keys):
  dkim generate DOMAIN [--selector S] [--ed25519]
                                      RSA 2048 key (and an Ed25519 one under S-ed);
                                      prints the TXT records to publish; default
                                      selector "relay" + year and month
  dkim show DOMAIN                    the TXT records to publish
  dkim list                           domain, selectors, algorithms, created
  dkim delete DOMAIN                  stop signing mail from DOMAIN

Sender verification cache (probe results, shared by every node):
  verify list [--bad]                 address, status, checked, expires, remote reply
  verify delete ADDRESS|--all         forget a result; the next submission probes again

Admin UI:
  admin password                      reads the new password from standard input

Queue:
  queue list                          id, age, sender, recipients, size
  queue show ID                       JSON
  queue retry ID|--all                deliver now, whatever the backoff says
  queue delete ID                     drop the message without notice
  queue bounce ID                     return the message to its sender (DSN)

Connection policy (allow-list wins over DNSBL and blocks):
  allow list                          entries added here (the config's [policy] allow is not shown)
  allow add IP|CIDR [--note TEXT]
  allow delete IP|CIDR
  block list [--all]                  client, reason, expiry, evidence; --all: expired too
  block add IP [--reason TEXT] [--duration 2h | --permanent]
                                      default duration 24h; an IPv6 address blocks its /64
  block delete IP                     lift a block at once on every node

  help                                this text

Exit status: 0 on success, 2 on bad input (one line on stderr, nothing changed),
1 on other failures.
`;
