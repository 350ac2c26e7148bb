// Package metrics owns jumpcast's operational surface: the Prometheus
// series (on a registry of its own, never the global one) and the health
// probes behind /healthz and /readyz.
//
// The series are fed without touching the SSH hot paths: CountingSink wraps
// the audit.Sink that the proxy, the web site and the retention job already
// write to and counts each event as it passes, switching on the kinds,
// outcomes and reasons of package internal/audit; Index wraps the recorder's
// index and counts the bytes of each finished recording; ObserveDial is the
// proxy's Options.OnDial. internal/bastion wires these; nothing here
// imports proxy or replayweb.
package metrics
