{{/* Names and labels shared by every template. */}}
{{- define "vigil.name" -}}
{{- printf "%s" .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}

{{- define "vigil.labels" -}}
app.kubernetes.io/name: vigil
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "vigil.selector" -}}
app.kubernetes.io/name: vigil
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "vigil.secret" -}}
{{- .Values.existingSecret | default (printf "%s-secrets" (include "vigil.name" .)) -}}
{{- end -}}

{{- define "vigil.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag }}
{{- end -}}

{{/* The settings every Vigil container gets: where PostgreSQL, Redis and ClickHouse are. */}}
{{- define "vigil.env" -}}
- name: VIGIL_DATABASE_URL
  valueFrom: {secretKeyRef: {name: {{ include "vigil.secret" . }}, key: database-url}}
- name: VIGIL_REDIS_URL
  valueFrom: {secretKeyRef: {name: {{ include "vigil.secret" . }}, key: redis-url}}
- name: VIGIL_CLICKHOUSE_PASSWORD
  valueFrom: {secretKeyRef: {name: {{ include "vigil.secret" . }}, key: clickhouse-password}}
- name: VIGIL_CLICKHOUSE_URL
  value: {{ .Values.clickhouse.url | quote }}
- name: VIGIL_CLICKHOUSE_DATABASE
  value: {{ .Values.clickhouse.database | quote }}
- name: VIGIL_CLICKHOUSE_USER
  value: {{ .Values.clickhouse.user | quote }}
- name: VIGIL_PUBLIC_URL
  value: {{ .Values.publicUrl | quote }}
- name: VIGIL_PUBLIC_INGEST_GRPC_URL
  value: {{ .Values.publicUrl | quote }}
- name: VIGIL_PUBLIC_INGEST_HTTP_URL
  value: {{ .Values.publicUrl | quote }}
- name: VIGIL_SECURE_COOKIES
  value: "true"
- name: VIGIL_LOG_FORMAT
  value: json
# The Ingress controller's pods reach Vigil from the cluster's pod network.
- name: VIGIL_TRUSTED_PROXIES
  value: "10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16"
{{- range $name, $value := .Values.env }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- end -}}

{{- define "vigil.securityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities: {drop: ["ALL"]}
seccompProfile: {type: RuntimeDefault}
{{- end -}}
