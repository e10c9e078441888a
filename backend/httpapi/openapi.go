package httpapi

import (
	"encoding/json"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"
)

// openAPI builds the OpenAPI 3.0 document from the route table, so that the
// document and the routes cannot drift apart.
type openAPI struct {
	schemas map[string]any
}

var timeType = reflect.TypeOf(time.Time{})

func (o *openAPI) schemaOf(t reflect.Type) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if m, ok := reflect.New(t).Elem().Interface().(interface{ optElem() any }); ok {
		return o.schemaOf(reflect.TypeOf(m.optElem()))
	}
	if t == timeType {
		return map[string]any{"type": "string", "format": "date-time"}
	}
	switch t.Kind() {
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return map[string]any{"type": "integer"}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer", "minimum": 0}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "format": "byte"}
		}
		return map[string]any{"type": "array", "items": o.schemaOf(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": o.schemaOf(t.Elem())}
	case reflect.Interface:
		return map[string]any{}
	case reflect.Struct:
		name := schemaName(t)
		if name != "" {
			if _, ok := o.schemas[name]; !ok {
				o.schemas[name] = nil // break recursion
				o.schemas[name] = o.structSchema(t)
			}
			return map[string]any{"$ref": "#/components/schemas/" + name}
		}
		return o.structSchema(t)
	}
	return map[string]any{}
}

func schemaName(t reflect.Type) string {
	if t.Name() == "" {
		return ""
	}
	pkg := t.PkgPath()
	name := t.Name()
	if i := strings.IndexByte(name, '['); i >= 0 {
		return "" // generic instantiations are inlined
	}
	if strings.HasSuffix(pkg, "/httpapi") {
		return strings.ToUpper(name[:1]) + name[1:]
	}
	return pkg[strings.LastIndexByte(pkg, '/')+1:] + "." + name
}

func (o *openAPI) structSchema(t reflect.Type) map[string]any {
	props := map[string]any{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			if sub, ok := o.structSchema(f.Type)["properties"].(map[string]any); ok {
				for k, v := range sub {
					props[k] = v
				}
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		props[name] = o.schemaOf(f.Type)
	}
	return map[string]any{"type": "object", "properties": props}
}

var errorSchema = map[string]any{"type": "object", "properties": map[string]any{
	"error": map[string]any{"type": "object", "required": []string{"code", "message"}, "properties": map[string]any{
		"code": map[string]any{"type": "string"}, "message": map[string]any{"type": "string"}, "field": map[string]any{"type": "string"},
	}},
}}

// Document returns the OpenAPI document.
func (a *API) Document() map[string]any {
	o := &openAPI{schemas: map[string]any{"Error": errorSchema}}
	paths := map[string]map[string]any{}
	for _, rt := range a.routes {
		p := "/api/v1" + rt.path
		if paths[p] == nil {
			paths[p] = map[string]any{}
		}
		op := map[string]any{
			"tags": []string{rt.tag}, "summary": rt.summary,
			"operationId": strings.ToLower(rt.method) + strings.NewReplacer("/", "_", "{", "", "}", "", "-", "_").Replace(rt.path),
		}
		if rt.access != public {
			op["security"] = []map[string][]string{{"bearer": {}}}
		}
		var params []map[string]any
		if strings.Contains(rt.path, "{id}") {
			params = append(params, map[string]any{"name": "id", "in": "path", "required": true, "schema": map[string]any{"type": "integer"}})
		}
		if rt.list {
			for _, q := range []string{"page", "page_size"} {
				params = append(params, map[string]any{"name": q, "in": "query", "schema": map[string]any{"type": "integer"}})
			}
			for _, q := range []string{"search", "sort"} {
				params = append(params, map[string]any{"name": q, "in": "query", "schema": map[string]any{"type": "string"}})
			}
		}
		if params != nil {
			op["parameters"] = params
		}
		if rt.req != nil {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": o.schemaOf(reflect.TypeOf(rt.req))}}}
		} else if strings.HasSuffix(rt.path, "/import") {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{"text/csv": map[string]any{"schema": map[string]any{"type": "string"}}}}
		}
		responses := map[string]any{
			"default": map[string]any{"description": "error", "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Error"}}}},
		}
		switch {
		case strings.HasSuffix(rt.path, "/export"):
			responses["200"] = map[string]any{"description": "CSV file", "content": map[string]any{"text/csv": map[string]any{"schema": map[string]any{"type": "string"}}}}
		case rt.resp == nil:
			responses["204"] = map[string]any{"description": "done"}
		default:
			s := o.schemaOf(reflect.TypeOf(rt.resp))
			if rt.list {
				s = map[string]any{"type": "object", "properties": map[string]any{
					"items": map[string]any{"type": "array", "items": s}, "total": map[string]any{"type": "integer"},
					"page": map[string]any{"type": "integer"}, "page_size": map[string]any{"type": "integer"},
				}}
			}
			code := "200"
			if rt.method == "POST" && (strings.Count(rt.path, "/") == 1 || rt.path == "/me/tokens") {
				code = "201"
			}
			responses[code] = map[string]any{"description": "ok", "content": map[string]any{"application/json": map[string]any{"schema": s}}}
		}
		op["responses"] = responses
		paths[p][strings.ToLower(rt.method)] = op
	}
	paths["/api/v1/openapi.json"] = map[string]any{"get": map[string]any{"tags": []string{"Service"}, "summary": "This document", "operationId": "get_openapi",
		"responses": map[string]any{"200": map[string]any{"description": "OpenAPI 3 document"}}}}
	return map[string]any{
		"openapi": "3.0.3",
		"info":    map[string]any{"title": "Portcullis API", "version": "1", "description": "REST API of the Portcullis bastion host. See docs/api.md."},
		"servers": []map[string]any{{"url": "/"}},
		"paths":   paths,
		"components": map[string]any{
			"schemas":         o.schemas,
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer"}},
		},
	}
}

// Routes lists "METHOD /api/v1/path" of every REST route, sorted.
func (a *API) Routes() []string {
	out := make([]string, 0, len(a.routes)+1)
	for _, rt := range a.routes {
		out = append(out, rt.method+" /api/v1"+rt.path)
	}
	out = append(out, "GET /api/v1/openapi.json")
	sort.Strings(out)
	return out
}

// openAPICache holds the marshalled document, built on first request.
type openAPICache struct {
	once sync.Once
	doc  []byte
	err  error
}

func (a *API) serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	c := &a.openapi
	c.once.Do(func() { c.doc, c.err = json.Marshal(a.Document()) })
	if c.err != nil {
		writeJSONError(w, &Error{Status: 500, Code: codeInternal, Message: "internal error"})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(c.doc)
}
