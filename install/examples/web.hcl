# A service definition in Consul's format: the "web" service on this VM, an HTTP health check, and a
# sidecar proxy through which web reaches its "api" upstream over mTLS at localhost:9191.
#
# Shipped as documentation (/usr/share/doc/shoal/examples), not installed into /etc/shoal.d: every
# VM would otherwise register a "web" service that is not there, with a failing health check. Copy
# it to /etc/shoal.d/web.hcl, adapt it, and run `systemctl reload shoal`.
service {
  name = "web"
  id   = "web-1"
  port = 8080
  tags = ["v1", "frontend"]
  meta = {
    version = "1.4.2"
  }

  check {
    id       = "web-http"
    name     = "HTTP on :8080/health"
    http     = "http://127.0.0.1:8080/health"
    method   = "GET"
    interval = "10s"
    timeout  = "2s"
  }

  connect {
    sidecar_service {
      proxy {
        upstreams = [
          {
            destination_name = "api"
            local_bind_port  = 9191
          }
        ]
      }
    }
  }
}
