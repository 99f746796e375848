using System.Text.Json.Nodes;
using MiniDocker.Cli.Templates;

namespace MiniDocker.Cli.Tests;

/// <summary>The template engine against what Go's text/template (with Docker's functions) prints for the same
/// template and data.</summary>
public class TemplateTests
{
    // The shape of `docker inspect`, trimmed.
    private static readonly string Inspect = """
        {
          "Id": "4f1c2d3e4f5a6b7c8d9e",
          "Name": "/web",
          "State": { "Status": "running", "Running": true, "Pid": 4242, "ExitCode": 0 },
          "Config": { "Image": "busybox", "Cmd": ["sleep", "600"], "Env": ["PATH=/usr/bin", "FOO=bar"], "Labels": {} },
          "NetworkSettings": {
            "IPAddress": "172.29.0.2",
            "Networks": {
              "front": { "IPAddress": "10.1.0.5", "Gateway": "10.1.0.1" },
              "bridge": { "IPAddress": "172.29.0.2", "Gateway": "172.29.0.1" }
            },
            "Ports": { "80/tcp": [ { "HostIp": "0.0.0.0", "HostPort": "8080" } ] }
          },
          "Mounts": [],
          "Nothing": null,
          "Ratio": 1.5
        }
        """;

    private static string Run(string template) => Template.Parse(template).Execute(JsonNode.Parse(Inspect));

    private static string Error(string template) =>
        Assert.Throws<TemplateException>(() => Run(template)).Message;

    [Theory]
    [InlineData("{{.Name}}", "/web")]
    [InlineData("{{.State.Pid}}", "4242")]
    [InlineData("{{.State.Running}}", "true")]
    [InlineData("{{.NetworkSettings.IPAddress}}", "172.29.0.2")]
    [InlineData("{{.NetworkSettings.Networks.bridge.Gateway}}", "172.29.0.1")]
    [InlineData("{{.Config.Cmd}}", "[sleep 600]")]
    [InlineData("{{.Config.Labels}}", "map[]")]
    [InlineData("{{.NetworkSettings.Ports}}", "map[80/tcp:[map[HostIp:0.0.0.0 HostPort:8080]]]")]
    [InlineData("{{.Nothing}}", "<no value>")]
    [InlineData("{{.Ratio}}", "1.5")]
    [InlineData("{{.State}}", "map[ExitCode:0 Pid:4242 Running:true Status:running]")]
    [InlineData("{{$.Name}}", "/web")]
    [InlineData("{{with .State}}{{$.Name}} {{.Status}}{{end}}", "/web running")]
    [InlineData("{{.State.Status}} {{ .State.ExitCode }}", "running 0")]
    public void Field_paths_print_as_go_prints_them(string template, string expected) => Assert.Equal(expected, Run(template));

    [Theory]
    [InlineData("{{$n := .Name}}{{$n}}", "/web")]
    [InlineData("{{$x := 1}}{{if true}}{{$x = 2}}{{end}}{{$x}}", "2")]
    [InlineData("{{$s := .State}}{{$s.Pid}}", "4242")]
    [InlineData("{{with $x := .State.Status}}{{$x}}{{end}}", "running")]
    [InlineData("{{$v := \"outer\"}}{{range .Config.Cmd}}{{$v := .}}{{end}}{{$v}}", "outer")]
    public void Variables_are_declared_assigned_and_scoped(string template, string expected) => Assert.Equal(expected, Run(template));

    [Theory]
    [InlineData("{{range .Config.Env}}{{.}},{{end}}", "PATH=/usr/bin,FOO=bar,")]
    [InlineData("{{range $i, $e := .Config.Env}}{{$i}}={{$e}} {{end}}", "0=PATH=/usr/bin 1=FOO=bar ")]
    [InlineData("{{range $e := .Config.Cmd}}<{{$e}}>{{end}}", "<sleep><600>")]
    // Maps in key order, as Go ranges over them.
    [InlineData("{{range $name, $n := .NetworkSettings.Networks}}{{$name}}:{{$n.IPAddress}} {{end}}", "bridge:172.29.0.2 front:10.1.0.5 ")]
    [InlineData("{{range .NetworkSettings.Networks}}{{println .IPAddress}}{{end}}", "172.29.0.2\n10.1.0.5\n")]
    [InlineData("{{range .Mounts}}x{{else}}none{{end}}", "none")]
    [InlineData("{{range .Nothing}}x{{else}}none{{end}}", "none")]
    [InlineData("{{range $i, $e := .Config.Env}}{{if eq $i 1}}{{break}}{{end}}{{$e}}{{end}}", "PATH=/usr/bin")]
    [InlineData("{{range $i, $e := .Config.Env}}{{if eq $i 0}}{{continue}}{{end}}{{$e}}{{end}}", "FOO=bar")]
    [InlineData("{{range 3}}{{.}}{{end}}", "012")]
    [InlineData("{{range $p, $b := .NetworkSettings.Ports}}{{$p}} -> {{(index $b 0).HostPort}}{{end}}", "80/tcp -> 8080")]
    public void Range_walks_lists_maps_and_counts(string template, string expected) => Assert.Equal(expected, Run(template));

    [Theory]
    [InlineData("{{if .State.Running}}up{{end}}", "up")]
    [InlineData("{{if .Mounts}}some{{else}}none{{end}}", "none")]
    [InlineData("{{if eq .State.Status \"exited\"}}E{{else if .State.Running}}R{{else}}?{{end}}", "R")]
    [InlineData("{{if eq .State.Status \"exited\"}}E{{else if .Mounts}}M{{else}}?{{end}}", "?")]
    [InlineData("{{with .Nothing}}x{{else}}empty{{end}}", "empty")]
    [InlineData("{{with .Nothing}}x{{else with .State}}{{.Pid}}{{end}}", "4242")]
    [InlineData("{{with .Config}}{{.Image}}{{end}}", "busybox")]
    [InlineData("{{if and (gt .State.Pid 0) (ne .State.Status \"exited\")}}up{{end}}", "up")]
    [InlineData("{{if not .Config.Labels}}no labels{{end}}", "no labels")]
    public void If_else_and_with_choose_by_truth(string template, string expected) => Assert.Equal(expected, Run(template));

    [Theory]
    [InlineData("{{index .Config.Cmd 1}}", "600")]
    [InlineData("{{index .NetworkSettings.Networks \"front\" \"Gateway\"}}", "10.1.0.1")]
    [InlineData("{{(index .NetworkSettings.Ports \"80/tcp\" 0).HostPort}}", "8080")]
    [InlineData("{{index .NetworkSettings.Ports \"443/tcp\"}}", "<no value>")]
    [InlineData("{{(index .NetworkSettings.Networks \"front\").Gateway}}", "10.1.0.1")]
    [InlineData("{{join .Config.Cmd \" \"}}", "sleep 600")]
    [InlineData("{{join .Config.Env \",\"}}", "PATH=/usr/bin,FOO=bar")]
    [InlineData("{{split \"a,b,c\" \",\"}}", "[a b c]")]
    [InlineData("{{range split .Id \"c\"}}[{{.}}]{{end}}", "[4f1][2d3e4f5a6b7][8d9e]")]
    [InlineData("{{index (split \"k=v\" \"=\") 1}}", "v")]
    [InlineData("{{upper .State.Status}}", "RUNNING")]
    [InlineData("{{lower \"ABC\"}}", "abc")]
    [InlineData("{{title \"hello world-foo bar_baz\"}}", "Hello World-Foo Bar_baz")]
    [InlineData("{{len .Config.Env}}", "2")]
    [InlineData("{{len .NetworkSettings.Networks}}", "2")]
    [InlineData("{{len \"héllo\"}}", "6")] // bytes, as Go
    [InlineData("{{println .Name}}", "/web\n")]
    [InlineData("{{println \"a\" 1 true}}", "a 1 true\n")]
    [InlineData("{{print 1 2 \"a\" 3}}", "1 2a3")]
    [InlineData("{{json .Config.Cmd}}", "[\"sleep\",\"600\"]")]
    [InlineData("{{json .State}}", "{\"Status\":\"running\",\"Running\":true,\"Pid\":4242,\"ExitCode\":0}")]
    [InlineData("{{json \"a<b>&\"}}", "\"a<b>&\"")]
    [InlineData("{{json .Nothing}}", "null")]
    [InlineData("{{json (split \"a b\" \" \")}}", "[\"a\",\"b\"]")]
    [InlineData("{{pad .State.Status 1 2}}|", " running  |")]
    [InlineData("{{truncate .Id 4}}", "4f1c")]
    [InlineData("{{slice .Id 1 3}}", "f1")]
    [InlineData("{{not .State.Running}}", "false")]
    public void Functions_work_as_in_docker(string template, string expected) => Assert.Equal(expected, Run(template));

    [Theory]
    [InlineData("{{eq .State.Status \"running\"}}", "true")]
    [InlineData("{{eq .State.Status \"a\" \"b\" \"running\"}}", "true")]
    [InlineData("{{eq .State.Pid 4242}}", "true")]
    [InlineData("{{ne .State.ExitCode 0}}", "false")]
    [InlineData("{{lt 1 2}} {{le 2 2}} {{gt 1 2}} {{ge 2 3}}", "true true false false")]
    [InlineData("{{lt \"a\" \"b\"}}", "true")]
    [InlineData("{{or .Nothing \"default\"}}", "default")]
    [InlineData("{{or 0 \"\"}}|", "|")]
    [InlineData("{{and 1 0 2}}", "0")]
    [InlineData("{{and 1 2}}", "2")]
    // and/or stop at the first deciding argument: the failing index is never evaluated.
    [InlineData("{{or .State.Running (index .Mounts 5)}}", "true")]
    public void Comparisons_and_logic(string template, string expected) => Assert.Equal(expected, Run(template));

    [Theory]
    [InlineData("{{printf \"%s has pid %d\" .Name .State.Pid}}", "/web has pid 4242")]
    [InlineData("{{printf \"%q\" .Name}}", "\"/web\"")]
    [InlineData("{{printf \"%v\" .Config.Cmd}}", "[sleep 600]")]
    [InlineData("{{printf \"%q\" .Config.Cmd}}", "[\"sleep\" \"600\"]")]
    [InlineData("{{printf \"%-6s|%6s|\" \"ab\" \"cd\"}}", "ab    |    cd|")]
    [InlineData("{{printf \"%05d|%x|%X|%o|%b\" 42 255 255 8 5}}", "00042|ff|FF|10|101")]
    [InlineData("{{printf \"%.2f|%e|%g\" .Ratio 1234.5678 0.000012}}", "1.50|1.234568e+03|1.2e-05")]
    [InlineData("{{printf \"%t %v %%\" true .Nothing}}", "true <nil> %")]
    [InlineData("{{printf \"%d\" \"x\"}}", "%!d(string=x)")]
    [InlineData("{{printf \"%s\" .State.Pid}}", "%!s(int=4242)")]
    [InlineData("{{printf \"%s\"}}", "%!s(MISSING)")]
    [InlineData("{{printf \"%d\" 1 2}}", "1%!(EXTRA int=2)")]
    [InlineData("{{printf \"%*d|%.*s\" 4 7 2 \"abc\"}}", "   7|ab")]
    [InlineData("{{.State.Status | printf \"%s!\"}}", "running!")]
    [InlineData("{{\"x\" | printf \"%s-%s\" \"y\"}}", "y-x")]
    [InlineData("{{.Name | upper | printf \"[%s]\"}}", "[/WEB]")]
    public void Printf_and_pipelines(string template, string expected) => Assert.Equal(expected, Run(template));

    [Theory]
    [InlineData("{{\"a\\tb\\\"c\\u00e9\\x41\"}}", "a\tb\"céA")]
    [InlineData("{{`raw\\n`}}", "raw\\n")]
    [InlineData("{{42}} {{-7}} {{0x1F}} {{0o17}} {{017}} {{0b101}} {{1_000}}", "42 -7 31 15 15 5 1000")]
    [InlineData("{{1.5}} {{1e3}} {{1.0}} {{1e21}} {{0.00001}}", "1.5 1000 1 1e+21 1e-05")]
    [InlineData("{{'a'}} {{'\\n'}}", "97 10")]
    [InlineData("{{true}} {{false}}", "true false")]
    [InlineData("{{.}}", "map[Config:map[Cmd:[sleep 600] Env:[PATH=/usr/bin FOO=bar] Image:busybox Labels:map[]] Id:4f1c2d3e4f5a6b7c8d9e Mounts:[] Name:/web NetworkSettings:map[IPAddress:172.29.0.2 Networks:map[bridge:map[Gateway:172.29.0.1 IPAddress:172.29.0.2] front:map[Gateway:10.1.0.1 IPAddress:10.1.0.5]] Ports:map[80/tcp:[map[HostIp:0.0.0.0 HostPort:8080]]]] Nothing:<nil> Ratio:1.5 State:map[ExitCode:0 Pid:4242 Running:true Status:running]]")]
    public void Literals(string template, string expected) => Assert.Equal(expected, Run(template));

    [Theory]
    [InlineData("a  {{- \"b\" -}}  c", "abc")]
    [InlineData("a \n {{- .Name}}", "a/web")]
    [InlineData("{{.Name -}} \n\t x", "/webx")]
    [InlineData("x {{/* a comment */}} y", "x  y")]
    [InlineData("x {{- /* a comment */ -}} y", "xy")]
    [InlineData("{{range .Config.Cmd -}}\n  {{.}}\n{{- end}}", "sleep600")]
    // A dash without a space is a negative number, not a trim marker.
    [InlineData("a {{-3}}", "a -3")]
    [InlineData("{{\n.Name\n}}", "/web")]
    public void Whitespace_trimming_and_comments(string template, string expected) => Assert.Equal(expected, Run(template));

    [Theory]
    // Docker's exact messages (the position of a path is its second field's, as Go reports it).
    [InlineData("{{.Nope}}", "template: :1:2: executing \"\" at <.Nope>: map has no entry for key \"Nope\"")]
    [InlineData(" {{.Nope}}", "template: :1:3: executing \"\" at <.Nope>: map has no entry for key \"Nope\"")]
    [InlineData("{{.State.Nope}}", "template: :1:8: executing \"\" at <.State.Nope>: map has no entry for key \"Nope\"")]
    [InlineData("{{.State.Health.Status}}", "template: :1:8: executing \"\" at <.State.Health.Status>: map has no entry for key \"Health\"")]
    [InlineData("{{range .NetworkSettings.Networks}}{{println .IPAddress}}{{end}}{{.NetworkSettings.Nope.IPAddress}}",
        "template: :1:82: executing \"\" at <.NetworkSettings.Nop...>: map has no entry for key \"Nope\"")]
    [InlineData("line one\n  {{.Nope}}", "template: :2:4: executing \"\" at <.Nope>: map has no entry for key \"Nope\"")]
    [InlineData("{{index .Config.Cmd 5}}", "template: :1:2: executing \"\" at <index .Config.Cmd 5>: error calling index: index out of range: 5")]
    [InlineData("{{index .Nothing 0}}", "template: :1:2: executing \"\" at <index .Nothing 0>: error calling index: index of untyped nil")]
    [InlineData("{{.Name.X}}", "template: :1:7: executing \"\" at <.Name.X>: can't evaluate field X in type string")]
    [InlineData("{{.Nothing.X}}", "template: :1:10: executing \"\" at <.Nothing.X>: nil pointer evaluating interface {}.X")]
    [InlineData("{{len .State.Pid}}", "template: :1:2: executing \"\" at <len .State.Pid>: error calling len: len of type int")]
    [InlineData("{{eq .State.Pid \"x\"}}", "template: :1:2: executing \"\" at <eq .State.Pid \"x\">: error calling eq: incompatible types for comparison")]
    [InlineData("{{upper .State.Pid}}", "template: :1:14: executing \"\" at <.State.Pid>: wrong type for value; expected string; got int")]
    [InlineData("{{join .Name}}", "template: :1:2: executing \"\" at <join>: wrong number of args for join: want 2 got 1")]
    [InlineData("{{.Name 1}}", "template: :1:2: executing \"\" at <.Name>: Name is not a method but has arguments")]
    [InlineData("{{range .Name}}{{end}}", "template: :1:8: executing \"\" at <.Name>: range can't iterate over /web")]
    [InlineData("{{\"x\" 1}}", "template: :1:2: executing \"\" at <\"x\">: can't give argument to non-function \"x\"")]
    public void Execution_errors_name_the_place_as_docker_does(string template, string expected) => Assert.Equal(expected, Error(template));

    [Theory]
    [InlineData("{{.Name}", "template: :1: bad character U+007D '}'")]
    [InlineData("{{.Name }", "template: :1: unexpected \"}\" in operand")]
    [InlineData("{{.Name", "template: :1: unclosed action")]
    [InlineData("a\n{{.Name", "template: :2: unclosed action")]
    [InlineData("{{foo .Name}}", "template: :1: function \"foo\" not defined")]
    [InlineData("{{$x}}", "template: :1: undefined variable \"$x\"")]
    [InlineData("{{if .A}}x", "template: :1: unexpected EOF")]
    [InlineData("{{end}}", "template: :1: unexpected {{end}}")]
    [InlineData("{{else}}", "template: :1: unexpected {{else}}")]
    [InlineData("{{range .A}}{{else}}{{else}}{{end}}", "template: :1: expected end; found {{else}}")]
    [InlineData("{{break}}", "template: :1: {{break}} outside {{range}}")]
    [InlineData("{{\"a\" | \"b\"}}", "template: :1: non executable command in pipeline stage 2")]
    [InlineData("{{}}", "template: :1: missing value for command")]
    [InlineData("{{if}}{{end}}", "template: :1: missing value for if")]
    [InlineData("{{(.Name}}", "template: :1: unclosed left paren")]
    [InlineData("{{.Name)}}", "template: :1: unexpected right paren")]
    [InlineData("{{\"abc}}", "template: :1: unterminated quoted string")]
    [InlineData("{{3x}}", "template: :1: bad number syntax: \"3x\"")]
    [InlineData("{{.Na-me}}", "template: :1: bad character U+002D '-'")]
    [InlineData("{{/* x }}", "template: :1: unclosed comment")]
    [InlineData("{{\"x\".Foo}}", "template: :1: unexpected . after term \"\\\"x\\\"\"")]
    [InlineData("{{range $a, $b, $c := .}}{{end}}", "template: :1: too many declarations in range")]
    [InlineData("{{template \"x\"}}", "template: :1: {{template}} is not supported")]
    public void Parse_errors_are_one_line_as_go_words_them(string template, string expected) =>
        Assert.Equal(expected, Assert.Throws<TemplateException>(() => Template.Parse(template)).Message);

    [Fact]
    public void A_template_parsed_once_runs_over_many_objects()
    {
        var template = Template.Parse("{{.Name}}={{.State.Pid}}");
        Assert.Equal("/a=1", template.Execute(JsonNode.Parse("""{"Name":"/a","State":{"Pid":1}}""")));
        Assert.Equal("/b=2", template.Execute(JsonNode.Parse("""{"Name":"/b","State":{"Pid":2}}""")));
    }
}
