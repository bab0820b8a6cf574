{{/*
Names and labels.
*/}}
{{- define "madoguchi.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name, at most 63 characters (DNS label). Component suffixes such as "-web-citizen"
(12 characters) are added to it, so keep release names short: the result is truncated to 50 here.
*/}}
{{- define "madoguchi.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "madoguchi.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels common to every object of the release. */}}
{{- define "madoguchi.labels" -}}
helm.sh/chart: {{ include "madoguchi.chart" . }}
app.kubernetes.io/name: {{ include "madoguchi.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: madoguchi
{{- end }}

{{/* Selector labels of the release (every component). */}}
{{- define "madoguchi.selectorLabels" -}}
app.kubernetes.io/name: {{ include "madoguchi.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Selector labels of one component. Call with (dict "root" $ "component" "web-citizen").
*/}}
{{- define "madoguchi.componentSelectorLabels" -}}
{{ include "madoguchi.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Labels of one component's objects. Call with (dict "root" $ "component" "web-citizen"). */}}
{{- define "madoguchi.componentLabels" -}}
{{ include "madoguchi.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* The image reference: repository@digest when a digest is given, else repository:tag. */}}
{{- define "madoguchi.image" -}}
{{- $repository := required "image.repository is required" .Values.image.repository }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" $repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
CSRF_TRUSTED_ORIGINS: https://<host> for every host of every enabled Ingress, then the extra origins.
*/}}
{{- define "madoguchi.csrfTrustedOrigins" -}}
{{- $origins := list }}
{{- range $key := list "internet" "lgwan" }}
{{- $ing := index $.Values.ingress $key }}
{{- if $ing.enabled }}
{{- range $ing.hosts }}
{{- $origins = append $origins (printf "https://%s" .) }}
{{- end }}
{{- end }}
{{- end }}
{{- $origins = concat $origins $.Values.config.csrfTrustedOrigins }}
{{- $origins | uniq | join "," }}
{{- end }}

{{/*
Non-secret environment as a YAML map of strings. The ConfigMap's data, and (through fromYaml) the migrate
Job's inline env, since on a first install the hook runs before the ConfigMap exists.
*/}}
{{- define "madoguchi.configData" -}}
DEBUG: "false"
BASE_DOMAIN: {{ required "config.baseDomain is required" .Values.config.baseDomain | quote }}
CSRF_TRUSTED_ORIGINS: {{ include "madoguchi.csrfTrustedOrigins" . | quote }}
EMAIL_HOST: {{ .Values.config.emailHost | quote }}
DEFAULT_FROM_EMAIL: {{ .Values.config.defaultFromEmail | quote }}
SECURE_SSL_REDIRECT: {{ .Values.config.secureSslRedirect | toString | quote }}
{{- /* Refused, not warned (issue 13, finding 9): without them every client has the ingress controller's
address, and 50 failures from anyone lock citizen sign-in for the whole municipality. */}}
{{- if not .Values.config.trustedProxyNetworks }}
{{- fail "config.trustedProxyNetworks is empty: set it to the ingress controllers' pod network and the gateways' addresses (CIDRs, e.g. --set 'config.trustedProxyNetworks={10.244.0.0/16,10.30.0.0/24}'). Without it the app sees every request as coming from the ingress controller, and per-address limits and lockouts hit all users at once." }}
{{- end }}
TRUSTED_PROXY_NETWORKS: {{ join "," .Values.config.trustedProxyNetworks | quote }}
STAFF_DEFAULT_NETWORKS: {{ join "," .Values.config.staffDefaultNetworks | quote }}
VENDOR_ALLOWED_NETWORKS: {{ join "," .Values.config.vendorAllowedNetworks | quote }}
LOG_LEVEL: {{ .Values.config.logLevel | quote }}
SENTRY_ENVIRONMENT: {{ .Values.config.sentryEnvironment | quote }}
{{- range $name, $value := .Values.config.extraEnv }}
{{ $name }}: {{ $value | toString | quote }}
{{- end }}
{{- end }}

{{/* The CloudNativePG Cluster's name (its Services are <name>-rw/-ro/-r, its Secrets <name>-app/-ca). */}}
{{- define "madoguchi.cnpgCluster" -}}
{{- default (printf "%s-pg" (include "madoguchi.fullname" .)) .Values.database.cnpg.clusterName }}
{{- end }}

{{/* Where the pods find the CA that signed the CNPG server certificates (sslmode=verify-full). */}}
{{- define "madoguchi.pgCaDir" -}}
/etc/madoguchi/postgresql-ca
{{- end }}

{{/*
Secret-backed env entries. Call with (dict "root" $ "overrides" <component>.secretKeyOverrides).
DATABASE_URL comes from the CNPG Cluster and REDIS_URL from the chart's Redis while those are enabled,
unless the component's overrides name a key of the Secret for them (e.g. a pool's own database role).
Kubernetes expands $(VAR) only from variables defined earlier in the list, so the parts come first.
*/}}
{{- define "madoguchi.secretEnv" -}}
{{- $secretName := required "secret.name (an existing Secret) is required" .root.Values.secret.name }}
{{- $overrides := default (dict) .overrides }}
{{- $keys := merge (deepCopy $overrides) .root.Values.secret.keys }}
{{- $cnpg := and .root.Values.database.cnpg.enabled (not (hasKey $overrides "DATABASE_URL")) }}
{{- $redis := and .root.Values.redis.enabled (not (hasKey $overrides "REDIS_URL")) }}
{{- if $cnpg }}
{{- $keys = omit $keys "DATABASE_URL" }}
# The owner's URL that CloudNativePG generates (host: the -rw Service, which follows the primary).
- name: MADOGUCHI_PG_URI
  valueFrom:
    secretKeyRef:
      name: {{ include "madoguchi.cnpgCluster" .root }}-app
      key: uri
{{- else }}
{{- $_ := required "secret.keys.DATABASE_URL is required while database.cnpg.enabled is false (the external database's URL)" (index $keys "DATABASE_URL") }}
{{- end }}
{{- if $redis }}
{{- $keys = omit $keys "REDIS_URL" }}
- name: MADOGUCHI_REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ required "redis.auth.secretName is required" .root.Values.redis.auth.secretName }}
      key: {{ .root.Values.redis.auth.key }}
{{- else }}
{{- $_ := required "secret.keys.REDIS_URL is required while redis.enabled is false (the external Redis's URL)" (index $keys "REDIS_URL") }}
{{- end }}
{{- range $envName := keys $keys | sortAlpha }}
- name: {{ $envName }}
  valueFrom:
    secretKeyRef:
      name: {{ $secretName }}
      key: {{ index $keys $envName }}
      {{- if has $envName $.root.Values.secret.optionalKeys }}
      optional: true
      {{- end }}
{{- end }}
{{- if $cnpg }}
# TLS verified against the Cluster's own CA; read-write: libpq drops a connection that lands on a standby.
- name: DATABASE_URL
  value: "$(MADOGUCHI_PG_URI)?sslmode=verify-full&sslrootcert={{ include "madoguchi.pgCaDir" .root }}/ca.crt&target_session_attrs=read-write"
{{- end }}
{{- if $redis }}
# The HAProxy Service in front of the Redis pods, which always points at the current primary.
- name: REDIS_URL
  value: "redis://:$(MADOGUCHI_REDIS_PASSWORD)@{{ include "madoguchi.fullname" .root }}-redis:6379/0"
{{- end }}
{{- end }}

{{/* Pod-level settings shared by every component. Call with (dict "root" $ "cfg" <component values>). */}}
{{- define "madoguchi.podCommon" -}}
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .root.Values.serviceAccountName }}
serviceAccountName: {{ . }}
{{- end }}
# The pods never talk to the Kubernetes API.
automountServiceAccountToken: false
# No <SERVICE>_PORT variables: they would add noise and could collide with the app's own settings.
enableServiceLinks: false
securityContext:
  {{- toYaml .root.Values.podSecurityContext | nindent 2 }}
{{- with .cfg.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .cfg.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .cfg.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .cfg.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- if .cfg.terminationGracePeriodSeconds }}
terminationGracePeriodSeconds: {{ .cfg.terminationGracePeriodSeconds }}
{{- end }}
volumes:
  - name: tmp
    emptyDir:
      {{- with .root.Values.tmpVolume.medium }}
      medium: {{ . }}
      {{- end }}
      sizeLimit: {{ .root.Values.tmpVolume.sizeLimit }}
  {{- if .root.Values.database.cnpg.enabled }}
  # Only the certificate: the Secret also holds the CA's private key.
  - name: postgresql-ca
    secret:
      secretName: {{ include "madoguchi.cnpgCluster" .root }}-ca
      items:
        - key: ca.crt
          path: ca.crt
  {{- end }}
{{- end }}

{{/*
Spread a component's pods over zones (a rule) and over nodes (best effort): the hot standby of SO-02.
matchLabelKeys spreads each ReplicaSet revision on its own, so a rolling update keeps the spread too.
Call with (dict "root" $ "component" "web-citizen").
*/}}
{{- define "madoguchi.topologySpread" -}}
{{- $spread := .root.Values.topologySpread }}
topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: {{ $spread.zoneKey }}
    whenUnsatisfiable: {{ $spread.zoneWhenUnsatisfiable }}
    # Nodes that are down or cordoned carry taints: leaving them out lets the surviving zone take the pods.
    nodeTaintsPolicy: Honor
    labelSelector:
      matchLabels:
        {{- include "madoguchi.componentSelectorLabels" (dict "root" .root "component" .component) | nindent 8 }}
    matchLabelKeys:
      - pod-template-hash
  - maxSkew: 1
    topologyKey: {{ $spread.hostnameKey }}
    whenUnsatisfiable: {{ $spread.hostnameWhenUnsatisfiable }}
    nodeTaintsPolicy: Honor
    labelSelector:
      matchLabels:
        {{- include "madoguchi.componentSelectorLabels" (dict "root" .root "component" .component) | nindent 8 }}
    matchLabelKeys:
      - pod-template-hash
{{- end }}

{{/* Container securityContext and the /tmp mount, shared by every container. */}}
{{- define "madoguchi.containerCommon" -}}
securityContext:
  {{- toYaml .Values.containerSecurityContext | nindent 2 }}
volumeMounts:
  - name: tmp
    mountPath: /tmp
  {{- if .Values.database.cnpg.enabled }}
  - name: postgresql-ca
    mountPath: {{ include "madoguchi.pgCaDir" . }}
    readOnly: true
  {{- end }}
{{- end }}

{{/* Annotations that roll the pods when the non-secret configuration changes. */}}
{{- define "madoguchi.configChecksum" -}}
checksum/config: {{ include "madoguchi.configData" . | sha256sum }}
{{- end }}
