package graph

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// deploymentResource is a Deployment with a pod template wired from schema and another node.
func deploymentResource(id, dep string) string {
	return fmt.Sprintf(`
  - id: %[1]s
    template:
      apiVersion: apps/v1
      kind: Deployment
      metadata:
        name: ${schema.spec.name}-%[1]s
        labels: ${schema.spec.labels}
      spec:
        replicas: ${schema.spec.replicas}
        selector: {matchLabels: {app: "${schema.spec.name}"}}
        template:
          metadata: {labels: {app: "${schema.spec.name}", dep: "${%[2]s.metadata.name}"}}
          spec:
            containers:
            - name: app
              image: nginx:${schema.spec.name}
              env:
              - {name: DEP, value: "${%[2]s.metadata.name}"}`, id, dep)
}

func benchRGD(b *testing.B, n int) string {
	var sb strings.Builder
	sb.WriteString(cm("cfg", "${schema.spec.name}-cfg"))
	for i := 0; i < n; i++ {
		sb.WriteString(deploymentResource(fmt.Sprintf("d%d", i), "cfg"))
	}
	return sb.String()
}

// BenchmarkBuild measures checking and compiling an RGD: 2 resources, and 20 pod templates.
func BenchmarkBuild(b *testing.B) {
	for _, size := range []int{1, 20} {
		b.Run(fmt.Sprintf("resources=%d", size+1), func(b *testing.B) {
			t := &testing.T{}
			rgd := rgdFrom(t, benchRGD(b, size))
			rgd.Spec.Schema.Spec.Raw = []byte(`{"name":"string | default=x","replicas":"integer | default=1","labels":"map[string]string"}`)
			rgd.Spec.Schema.Status.Raw = []byte(`{"cfg":"${cfg.metadata.name}"}`)
			builder := NewBuilder(testMapper(), WithSchemaResolver(testSchemas(t)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := builder.Build(context.Background(), rgd); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
