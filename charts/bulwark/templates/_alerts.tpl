{{- /*
Bulwark's alerts (the PrometheusRule's spec). Every metric is one a component exports today; the
alerts that wait for a metric not exported yet are listed in the chart README ("Alerts").
Selectors: the release namespace (the Prometheus Operator's `namespace` target label) and, for
`up`, the release (podTargetLabels app.kubernetes.io/instance).
*/}}
{{- define "bulwark.alertRules" -}}
{{- $ns := printf "namespace=%q" .Release.Namespace }}
{{- $release := printf "app_kubernetes_io_instance=%q" .Release.Name }}
groups:
  - name: bulwark
    rules:
      - alert: BulwarkComponentDown
        expr: up{ {{- $ns }}, {{ $release -}} } == 0
        for: 5m
        labels: { severity: critical }
        annotations:
          summary: "Bulwark {{`{{ $labels.app_kubernetes_io_component }}`}} {{`{{ $labels.pod }}`}} cannot be scraped"
          description: "Prometheus has not reached the pod's /metrics for 5 minutes: it is down or not ready. Sidecars keep their last configuration; new pods and policy changes wait for the controller, and authz or ratelimit being down refuses the requests that need them (fail closed)."
      - alert: BulwarkXdsConfigRejected
        expr: sum by (namespace, type) (increase(bulwark_xds_nacks_total{ {{- $ns -}} }[10m])) > 0
        labels: { severity: warning }
        annotations:
          summary: "Sidecars rejected (NACKed) {{`{{ $labels.type }}`}} configuration"
          description: "Envoy refused configuration Bulwark sent in the last 10 minutes and keeps its previous one. The policies concerned show Programmed=False (kubectl get apisecuritypolicies -A); the controller logs the sidecar and Envoy's message."
      - alert: BulwarkXdsStreamsRejected
        expr: sum by (namespace, reason) (increase(bulwark_xds_rejected_streams_total{ {{- $ns -}} }[10m])) > 0
        for: 10m
        labels: { severity: warning }
        annotations:
          summary: "The controller refuses xDS connections ({{`{{ $labels.reason }}`}})"
          description: "Sidecars (or something else) keep connecting to the xDS port without a valid TLS session or pod-bound token for 20 minutes: pods whose sidecar cannot connect get no configuration. Reason {{`{{ $labels.reason }}`}}."
      - alert: BulwarkSidecarsDisconnected
        expr: sum by (namespace) (bulwark_xds_connected_sidecars{ {{- $ns -}} }) < 0.5 * sum by (namespace) (bulwark_xds_connected_sidecars{ {{- $ns -}} } offset 15m)
        for: 5m
        labels: { severity: warning }
        annotations:
          summary: "Half of the sidecars have disconnected from the controller"
          description: "{{`{{ $value }}`}} sidecars hold an ADS stream, less than half of 15 minutes ago. Disconnected sidecars keep serving their last configuration but get no policy changes and no certificate renewals."
      - alert: BulwarkNoLeader
        expr: max by (namespace) (bulwark_leader{ {{- $ns -}} }) == 0
        for: 5m
        labels: { severity: warning }
        annotations:
          summary: "No controller replica holds the leader Lease"
          description: "xDS is served, but no replica writes policy status or Events: Accepted, Programmed and Ready stop changing and GitOps health checks wait."
      - alert: BulwarkStatusWritesFailing
        expr: sum by (namespace) (increase(bulwark_status_writes_total{ {{- $ns -}}, result="failed"}[10m])) > 0
        for: 10m
        labels: { severity: warning }
        annotations:
          summary: "The controller cannot write policy status"
          description: "Status writes have been failing for 10 minutes (RBAC, the API server, conflicts past retries): policies' conditions are stale. See the controller's log."
      - alert: BulwarkPolicyNotReady
        expr: sum by (namespace, reason) (bulwark_policies{ {{- $ns -}}, ready="False"}) > 0
        for: 15m
        labels: { severity: warning }
        annotations:
          summary: "{{`{{ $value }}`}} policies are not Ready ({{`{{ $labels.reason }}`}})"
          description: "Policies have been Ready=False with reason {{`{{ $labels.reason }}`}} for 15 minutes: what they declare is not (fully) enforced. kubectl get apisecuritypolicies -A shows which; their Stalled or Reconciling condition and Events say why."
      - alert: BulwarkCertificateExpiresSoon
        expr: min by (namespace, pod, certificate) (bulwark_certificate_expiry_timestamp_seconds{ {{- $ns -}} }) - time() < {{ .Values.metrics.prometheusRule.certificateExpiryWarningDays }} * 86400
        labels: { severity: warning }
        annotations:
          summary: "The {{`{{ $labels.certificate }}`}} certificate of {{`{{ $labels.pod }}`}} expires in {{`{{ $value | humanizeDuration }}`}}"
          description: "Bulwark renews its own serving certificates when a third of their life is left and rotates the workload CA only when its Secret changes, so this means renewal is not happening: a cert-manager Certificate not renewing, a Secret managed by hand, or a component that has not restarted since (the controller reads its xDS certificate at start). See the chart README, Certificates."
      - alert: BulwarkCertificateExpiresVerySoon
        expr: min by (namespace, pod, certificate) (bulwark_certificate_expiry_timestamp_seconds{ {{- $ns -}} }) - time() < {{ .Values.metrics.prometheusRule.certificateExpiryCriticalDays }} * 86400
        labels: { severity: critical }
        annotations:
          summary: "The {{`{{ $labels.certificate }}`}} certificate of {{`{{ $labels.pod }}`}} expires in {{`{{ $value | humanizeDuration }}`}}"
          description: "Once it expires: workload-ca, sidecars stop accepting each other's mTLS; xds-serving or xds-ca, sidecars cannot reach the controller (they keep their last configuration); injector-serving, the API server cannot call the webhook and pods are created without sidecars if the webhook fails open, or not at all; public-cert/..., clients of that policy's sidecars refuse the handshake (renew the Secret; cert-manager normally does)."
      - alert: BulwarkXdsPushSlow
        expr: histogram_quantile(0.99, sum by (namespace, le) (rate(bulwark_xds_push_to_ack_seconds_bucket{ {{- $ns -}} }[10m]))) > 5
        for: 10m
        labels: { severity: warning }
        annotations:
          summary: "Sidecars take more than 5 s to acknowledge new configuration (p99)"
          description: "p99 from a new snapshot to the sidecar's ACK is {{`{{ $value | humanizeDuration }}`}}: policy changes reach traffic late."
      - alert: BulwarkAuthzErrors
        expr: sum by (namespace) (rate(bulwark_authz_decisions_total{ {{- $ns -}}, outcome="error"}[5m])) / sum by (namespace) (rate(bulwark_authz_decisions_total{ {{- $ns -}} }[5m])) > 0.01
        for: 5m
        labels: { severity: critical }
        annotations:
          summary: "More than 1% of authz checks fail"
          description: "{{`{{ $value | humanizePercentage }}`}} of bulwark authz checks end in an error; those requests are refused (fail closed). See authz's log."
      - alert: BulwarkAuthzSlow
        expr: histogram_quantile(0.99, sum by (namespace, le) (rate(bulwark_authz_check_duration_seconds_bucket{ {{- $ns -}} }[5m]))) > {{ .Values.metrics.prometheusRule.authzLatencyThresholdSeconds }}
        for: 10m
        labels: { severity: warning }
        annotations:
          summary: "authz checks are slow (p99 above {{ .Values.metrics.prometheusRule.authzLatencyThresholdSeconds }} s)"
          description: "p99 of bulwark authz's decision time is {{`{{ $value | humanizeDuration }}`}}; sidecars refuse with 503 past authz.timeoutMs ({{ .Values.authz.timeoutMs }} ms)."
      - alert: BulwarkRatelimitStoreDegraded
        expr: max by (namespace, pod) (bulwark_ratelimit_store_degraded{ {{- $ns -}} }) == 1
        for: 5m
        labels: { severity: warning }
        annotations:
          summary: "ratelimit counts in memory: Redis is unavailable"
          description: "{{`{{ $labels.pod }}`}} has counted per replica for 5 minutes: Global budgets are multiplied by the number of replicas until Redis is back."
      - alert: BulwarkRatelimitEvictions
        expr: sum by (namespace) (increase(bulwark_ratelimit_memory_evictions_total{ {{- $ns -}} }[10m])) > 0
        labels: { severity: warning }
        annotations:
          summary: "ratelimit evicts counters from memory"
          description: "Counters were evicted to stay within ratelimit.memoryCounters: each evicted key's budget restarts (fails open for that key). Raise ratelimit.memoryCounters or use Redis."
{{- end }}
