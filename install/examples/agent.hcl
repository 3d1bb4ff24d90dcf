# A Shoal agent on a VM (a client: it runs the local proxy and registers this machine's services).
# Copy to /etc/shoal.d/agent.hcl and adjust. Every *.hcl and *.json file in /etc/shoal.d is read in
# name order; later files override earlier ones.

# The cluster this VM belongs to; also the LAN gossip label, so agents of different clusters never
# merge by accident.
datacenter = "dc1"

# Node ID and gossip keyring live here; mode 0700, owned by the shoal user (systemd's StateDirectory).
data_dir = "/var/lib/shoal"

# Servers hold the cluster's CA material; run 3 to 5 per cluster. A VM agent is a client.
server = false

# Seeds to join, retried in the background (1 s, doubling up to retry_interval) until one answers.
# Any agent already in the cluster will do; the servers are the usual choice.
retry_join     = ["10.0.0.10", "10.0.0.11", "10.0.0.12"]
retry_interval = "30s"

# Gossip encryption: the same base64 key on every agent (generate one with `shoal keygen`). Keep it
# out of this file: install.sh --encrypt-file KEYFILE writes /etc/shoal.d/encrypt.hcl, mode 0640,
# containing
#   encrypt = "<base64 key>"
# It seeds the keyring in data_dir on first start; rotate later with `shoal keyring`.

# The HTTP API (and /metrics) listen on loopback by default; gossip binds every interface and
# announces this machine's private address. Set these when the VM has several private addresses.
# bind_addr      = "0.0.0.0"
# advertise_addr = "10.0.1.23"

log_level = "info"
