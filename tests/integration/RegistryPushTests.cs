using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace MiniDocker.IntegrationTests;

/// <summary>`push` to a real docker-registry, read back by skopeo and by a pull into a fresh root; `run --pull`.</summary>
public sealed partial class RegistryPushTests : IDisposable
{
    private readonly MiniDocker _md = new();
    private readonly LocalRegistry _registry = new();
    private readonly OciLayout _layout = new();
    private readonly List<MiniDocker> _others = [];

    public void Dispose()
    {
        foreach (var other in _others) other.Dispose();
        _md.Dispose();
        _registry.Dispose();
        _layout.Dispose();
    }

    private MiniDocker FreshRoot()
    {
        var md = new MiniDocker(importBusybox: false);
        _others.Add(md);
        return md;
    }

    public static (int ExitCode, string Stdout, string Stderr) Skopeo(params string[] args)
    {
        var psi = new ProcessStartInfo("skopeo", args) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, output, err.Result);
    }

    [GeneratedRegex(@"(?m)^1: digest: (sha256:[0-9a-f]{64}) size: \d+$")]
    private static partial Regex PushedDigest();

    [Fact]
    public void A_pushed_image_is_read_by_skopeo_pulled_into_a_fresh_root_and_runs_and_a_second_push_sends_nothing()
    {
        var reference = $"{_registry.Host}/pushed/bb:1";
        var missing = _md.Run("push", reference);
        Assert.Equal(1, missing.ExitCode);
        Assert.Equal($"minidocker: An image does not exist locally with the tag: {_registry.Host}/pushed/bb", missing.Stderr.Trim());
        Assert.Equal(0, _md.Run("tag", "busybox", reference).ExitCode);
        var push = _md.Run("push", reference);
        Assert.True(push.ExitCode == 0, push.ToString());
        Assert.Contains($"The push refers to repository [{_registry.Host}/pushed/bb]", push.Stdout);
        Assert.Contains(": Pushed", push.Stdout);
        var digest = PushedDigest().Match(push.Stdout).Groups[1].Value;
        Assert.NotEmpty(digest);

        // skopeo reads manifest, config and layer, and verifies every digest on the copy.
        var inspect = Skopeo("inspect", "--tls-verify=false", $"docker://{reference}");
        Assert.True(inspect.ExitCode == 0, inspect.Stderr);
        Assert.Equal(digest, JsonNode.Parse(inspect.Stdout)!["Digest"]!.GetValue<string>());
        var copy = Path.Combine(_md.Root, "copied-oci");
        var copied = Skopeo("copy", "--src-tls-verify=false", $"docker://{reference}", $"oci:{copy}:1");
        Assert.True(copied.ExitCode == 0, copied.Stderr);

        // The same image pushed again: the same bytes (layers re-tarred reproducibly), so nothing is uploaded.
        var again = _md.Run("push", reference);
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.Contains(": Layer already exists", again.Stdout);
        Assert.DoesNotContain(": Pushed", again.Stdout);
        Assert.Equal(digest, PushedDigest().Match(again.Stdout).Groups[1].Value);

        var fresh = FreshRoot();
        var pull = fresh.Run("pull", reference);
        Assert.True(pull.ExitCode == 0, pull.ToString());
        Assert.Contains($"Digest: {digest}", pull.Stdout);
        Assert.Contains(digest, fresh.Run("images", "--digests").Stdout);
        var run = fresh.Run("run", "--rm", "--net", "none", reference, "echo", "ran-the-pushed-image");
        Assert.Equal("ran-the-pushed-image\n", run.Stdout);
    }

    [Fact]
    public void A_pulled_layered_image_pushed_to_another_repository_keeps_its_whiteouts()
    {
        var baseLayer = OciLayout.Layer(File.ReadAllBytes(MiniDocker.BusyboxTar), "gzip");
        var add = OciLayout.Layer(OciLayout.Tar(("data/", null), ("data/keep.txt", "kept"), ("data/gone.txt", "deleted later")));
        var delete = OciLayout.Layer(OciLayout.Tar(("data/.wh.gone.txt", ""), ("data/new.txt", "new")), "gzip");
        _layout.Tag("1", _layout.Image([baseLayer, add, delete], OciLayout.HostArchitecture));
        _registry.Push(_layout, "layered", "1");
        var source = $"{_registry.Host}/layered:1";
        Assert.Equal(0, _md.Run("pull", source).ExitCode);
        var target = $"{_registry.Host}/copies/layered:2";
        Assert.Equal(0, _md.Run("tag", source, target).ExitCode);
        var push = _md.Run("push", target);
        Assert.True(push.ExitCode == 0, push.ToString());
        var digest = Regex.Match(push.Stdout, @"2: digest: (sha256:[0-9a-f]{64})").Groups[1].Value;

        var fresh = FreshRoot();
        Assert.Equal(0, fresh.Run("pull", target).ExitCode);
        Assert.Contains(digest, fresh.Run("images", "--digests").Stdout);
        var files = fresh.Run("run", "--rm", "--net", "none", target, "sh", "-c", "ls /data; cat /data/keep.txt");
        Assert.Equal("keep.txt\nnew.txt\nkept", files.Stdout);
    }

    [Fact]
    public void Run_pull_never_fails_on_a_missing_image_missing_pulls_it_and_always_fetches_the_new_one()
    {
        var baseLayer = OciLayout.Layer(File.ReadAllBytes(MiniDocker.BusyboxTar), "gzip");
        _layout.Tag("1", _layout.Image([baseLayer, OciLayout.Layer(OciLayout.Tar(("version", "one")))], OciLayout.HostArchitecture));
        _registry.Push(_layout, "moving", "1");
        var reference = $"{_registry.Host}/moving:1";

        var never = _md.Run("run", "--rm", "--pull", "never", "--net", "none", reference, "cat", "/version");
        Assert.Equal(125, never.ExitCode);
        Assert.Equal($"minidocker: No such image: {reference}", never.Stderr.Trim());
        Assert.Empty(_md.Run("images", "-q", reference).Stdout);

        var bad = _md.Run("run", "--rm", "--pull", "sometimes", "--net", "none", reference, "true");
        Assert.Equal(125, bad.ExitCode);
        Assert.Contains("invalid pull option: 'sometimes'", bad.Stderr);

        var missing = _md.Run("run", "--rm", "--pull", "missing", "--net", "none", reference, "cat", "/version");
        Assert.Equal("one", missing.Stdout);
        Assert.Contains($"Unable to find image '{reference}' locally", missing.Stderr);

        // The tag moves on in the registry: only --pull always sees it.
        using var second = new OciLayout();
        second.Tag("1", second.Image([baseLayer, OciLayout.Layer(OciLayout.Tar(("version", "two")))], OciLayout.HostArchitecture));
        _registry.Push(second, "moving", "1");
        Assert.Equal("one", _md.Run("run", "--rm", "--net", "none", reference, "cat", "/version").Stdout);
        Assert.Equal("one", _md.Run("run", "--rm", "--pull", "never", "--net", "none", reference, "cat", "/version").Stdout);
        var always = _md.Run("run", "--rm", "--pull", "always", "--net", "none", reference, "cat", "/version");
        Assert.True(always.ExitCode == 0, always.ToString());
        Assert.Equal("two", always.Stdout);
        Assert.Contains("Downloaded newer image", always.Stderr);
    }
}
