// Command kstatus prints what the kstatus library (sigs.k8s.io/cli-utils, used by Flux and by
// `kubectl`-style waiters) computes for one object: it reads the object as JSON on stdin and
// writes {"status": "...", "message": "..."} on stdout.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

func main() {
	input, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail("reading stdin: %v", err)
	}
	object := &unstructured.Unstructured{}
	if err := object.UnmarshalJSON(input); err != nil {
		fail("the input is not a Kubernetes object as JSON: %v", err)
	}
	result, err := status.Compute(object)
	if err != nil {
		fail("status.Compute: %v", err)
	}
	output, err := json.Marshal(map[string]string{"status": result.Status.String(), "message": result.Message})
	if err != nil {
		fail("encoding the result: %v", err)
	}
	fmt.Println(string(output))
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "kstatus: "+format+"\n", args...)
	os.Exit(1)
}
