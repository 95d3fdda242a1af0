// Command argocd-lua runs an Argo CD resource health script the way Argo CD runs a script from
// `resource.customizations.health.<group>_<kind>` in argocd-cm: gopher-lua with only the base,
// package and table libraries open (no string, os or io library), a one-second limit, and the
// object in the global `obj`. It reads the object as JSON on stdin, the script from the file named
// by its only argument, and writes the returned table's {"status", "message"} as JSON.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// The health codes Argo CD accepts from a script; any other is reported as Unknown by Argo CD.
var healthCodes = map[string]bool{"Healthy": true, "Progressing": true, "Degraded": true, "Suspended": true, "Missing": true, "Unknown": true}

func main() {
	if len(os.Args) != 2 {
		fail("usage: argocd-lua SCRIPT.lua < object.json")
	}
	script, err := os.ReadFile(os.Args[1])
	if err != nil {
		fail("reading the script: %v", err)
	}
	input, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail("reading stdin: %v", err)
	}
	var object map[string]any
	if err := json.Unmarshal(input, &object); err != nil {
		fail("the input is not a JSON object: %v", err)
	}
	status, message := run(string(script), object)
	output, _ := json.Marshal(map[string]string{"status": status, "message": message})
	fmt.Println(string(output))
}

func run(script string, object map[string]any) (string, string) {
	state := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer state.Close()
	for name, open := range map[string]lua.LGFunction{lua.LoadLibName: lua.OpenPackage, lua.BaseLibName: lua.OpenBase, lua.TabLibName: lua.OpenTable} {
		if err := state.CallByParam(lua.P{Fn: state.NewFunction(open), NRet: 0, Protect: true}, lua.LString(name)); err != nil {
			fail("opening the %q library: %v", name, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	state.SetContext(ctx)
	state.SetGlobal("obj", toLua(state, object))
	if err := state.DoString(script); err != nil {
		fail("the script failed: %v", err)
	}
	returned, ok := state.Get(-1).(*lua.LTable)
	if !ok {
		fail("the script returned %s, not a table", state.Get(-1).Type())
	}
	status, ok := returned.RawGetString("status").(lua.LString)
	if !ok || !healthCodes[string(status)] {
		fail("the returned table's status is %v, not one of Argo CD's health codes", returned.RawGetString("status"))
	}
	message := ""
	if m, ok := returned.RawGetString("message").(lua.LString); ok {
		message = string(m)
	} else if returned.RawGetString("message") != lua.LNil {
		fail("the returned table's message is a %s, not a string", returned.RawGetString("message").Type())
	}
	return string(status), message
}

// toLua converts decoded JSON to Lua values: objects become tables keyed by string, arrays tables
// indexed from 1, numbers LNumber, null nil.
func toLua(state *lua.LState, value any) lua.LValue {
	switch v := value.(type) {
	case bool:
		return lua.LBool(v)
	case float64:
		return lua.LNumber(v)
	case string:
		return lua.LString(v)
	case []any:
		table := state.CreateTable(len(v), 0)
		for _, item := range v {
			table.Append(toLua(state, item))
		}
		return table
	case map[string]any:
		table := state.CreateTable(0, len(v))
		for key, item := range v {
			table.RawSetString(key, toLua(state, item))
		}
		return table
	}
	return lua.LNil
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "argocd-lua: "+format+"\n", args...)
	os.Exit(1)
}
