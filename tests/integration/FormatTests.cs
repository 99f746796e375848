using System.Net;
using System.Text.Json;

namespace MiniDocker.IntegrationTests;

/// <summary>`ps --format` and `inspect -f`: Go templates as Docker's CLI runs them, the way scripts use them.</summary>
public sealed class FormatTests : IDisposable
{
    private readonly MiniDocker _md = new();
    private readonly string _tag = Guid.NewGuid().ToString("N")[..6];
    public void Dispose() => _md.Dispose();

    private string Name(string what) => $"fmt-{what}-{_tag}";

    private string RunDetached(params string[] args)
    {
        var r = _md.Run(["run", "-d", .. args]);
        Assert.True(r.ExitCode == 0, r.ToString());
        return r.Stdout.Trim();
    }

    private Result Ok(params string[] args)
    {
        var r = _md.Run(args);
        Assert.True(r.ExitCode == 0, r.ToString());
        return r;
    }

    [Fact]
    public void Ps_format_prints_just_the_fields_asked_for()
    {
        string a = RunDetached("--network", "none", "--name", Name("a"), "busybox", "sleep", "600");
        string b = RunDetached("--network", "none", "--name", Name("b"), "busybox", "sleep", "600");

        // Newest first, one name a line: no header, no other column.
        Assert.Equal($"{Name("b")}\n{Name("a")}\n", Ok("ps", "--format", "{{.Names}}").Stdout);
        Assert.Equal($"{b[..12]} {Name("b")} running none\n{a[..12]} {Name("a")} running none\n",
            Ok("ps", "--format", "{{.ID}} {{.Names}} {{.State}} {{.Networks}}").Stdout);

        // As typed in a shell: \t is two characters; Docker's header names, columns aligned as Docker's tabwriter.
        var table = Ok("ps", "--format", @"table {{.ID}}\t{{.Names}}").Stdout;
        Assert.Equal($"CONTAINER ID   NAMES\n{b[..12]}   {Name("b")}\n{a[..12]}   {Name("a")}\n", table);

        // Command is quoted as Docker quotes it; json is one object a line, with Docker's keys.
        Assert.Equal($"{Name("b")}=\"sleep 600\"\n{Name("a")}=\"sleep 600\"\n", Ok("ps", "--format", "{{.Names}}={{.Command}}").Stdout);
        var rows = Ok("ps", "--format", "json").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal([Name("b"), Name("a")], rows.Select(r => r.GetProperty("Names").GetString()));
        Assert.All(rows, r => Assert.Equal("Up", r.GetProperty("Status").GetString()![..2]));
    }

    [Fact]
    public void Inspect_f_reads_the_default_networks_address_as_scripts_do()
    {
        RunDetached("--name", Name("web"), "busybox", "sleep", "600");
        RunDetached("--network", "none", "--name", Name("off"), "busybox", "sleep", "600");

        string ip = Ok("inspect", "-f", "{{.NetworkSettings.IPAddress}}", Name("web")).Stdout.TrimEnd('\n');
        Assert.True(IPAddress.TryParse(ip, out var address) && address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork,
            $"not an IPv4 address: '{ip}'");
        // The address the container really has, and the same one under Networks.bridge.
        Assert.Contains($"inet {ip}/", Ok("exec", Name("web"), "ip", "-4", "-o", "addr", "show").Stdout);
        Assert.Equal($"{ip}\n", Ok("inspect", "-f", "{{.NetworkSettings.Networks.bridge.IPAddress}}", Name("web")).Stdout);
        Assert.Equal("bridge\n", Ok("inspect", "--format", "{{.HostConfig.NetworkMode}}", Name("web")).Stdout);

        // Not on the default network: an empty line, as Docker prints; one line per container asked for.
        Assert.Equal($"{ip}\n\n", Ok("inspect", "-f", "{{.NetworkSettings.IPAddress}}", Name("web"), Name("off")).Stdout);
        Assert.Equal("none=\n", Ok("inspect", "-f",
            "{{range $name, $n := .NetworkSettings.Networks}}{{$name}}={{$n.IPAddress}}{{end}}", Name("off")).Stdout);
    }

    [Fact]
    public void Inspect_f_state_pid_is_the_containers_process()
    {
        RunDetached("--network", "none", "--name", Name("p"), "busybox", "sleep", "600");
        string pid = Ok("inspect", "-f", "{{.State.Pid}}", Name("p")).Stdout.TrimEnd('\n');
        Assert.True(int.TryParse(pid, out int n) && n > 0, $"not a pid: '{pid}'");
        Assert.Contains("sleep", File.ReadAllText($"/proc/{n}/cmdline"));
        Assert.Equal("running true 0\n", Ok("inspect", "-f", "{{.State.Status}} {{.State.Running}} {{.State.ExitCode}}", Name("p")).Stdout);
        Assert.Equal($"/{Name("p")}\n", Ok("inspect", "-f", "{{.Name}}", Name("p")).Stdout);

        Ok("stop", "-t", "1", Name("p"));
        Assert.Equal("0 exited\n", Ok("inspect", "-f", "{{.State.Pid}} {{.State.Status}}", Name("p")).Stdout);
    }

    [Fact]
    public void Inspect_format_json_of_config()
    {
        RunDetached("--network", "none", "--name", Name("j"), "-e", "FOO=bar", "busybox", "sleep", "600");
        var r = Ok("inspect", "--format", "{{json .Config}}", Name("j"));
        Assert.Single(r.Stdout.TrimEnd('\n').Split('\n'));
        var config = JsonDocument.Parse(r.Stdout).RootElement;
        Assert.Equal("busybox", config.GetProperty("Image").GetString());
        Assert.Equal(["sleep", "600"], config.GetProperty("Cmd").EnumerateArray().Select(e => e.GetString()));
        Assert.Contains("FOO=bar", config.GetProperty("Env").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("busybox sleep,600\n", Ok("inspect", "-f", "{{.Config.Image}} {{join .Config.Cmd \",\"}}", Name("j")).Stdout);
        // Without a format: still Docker's JSON array.
        Assert.Equal(1, JsonDocument.Parse(Ok("inspect", Name("j")).Stdout).RootElement.GetArrayLength());
    }

    [Fact]
    public void An_unknown_field_is_one_line_naming_it_with_exit_125()
    {
        RunDetached("--network", "none", "--name", Name("u"), "busybox", "sleep", "600");

        var inspect = _md.Run("inspect", "-f", "{{.Nope}}", Name("u"));
        Assert.Equal(125, inspect.ExitCode);
        Assert.Equal("", inspect.Stdout);
        Assert.Equal("minidocker: template parsing error: template: :1:2: executing \"\" at <.Nope>: map has no entry for key \"Nope\"\n",
            inspect.Stderr);

        var nested = _md.Run("inspect", "-f", "{{.State.Nope}}", Name("u"));
        Assert.Equal(125, nested.ExitCode);
        Assert.Contains("map has no entry for key \"Nope\"", nested.Stderr);

        var ps = _md.Run("ps", "--format", "{{.Names}} {{.Nope}}");
        Assert.Equal(125, ps.ExitCode);
        Assert.Equal("", ps.Stdout);
        Assert.Single(ps.Stderr.TrimEnd('\n').Split('\n'));
        Assert.Contains("map has no entry for key \"Nope\"", ps.Stderr);

        var parse = _md.Run("ps", "--format", "{{.Names");
        Assert.Equal(125, parse.ExitCode);
        Assert.Equal("minidocker: template parsing error: template: :1: unclosed action\n", parse.Stderr);
    }
}
