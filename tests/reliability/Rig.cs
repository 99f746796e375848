using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace MiniDocker.IntegrationTests.Reliability;

/// <summary>
/// One test's state root (the integration fixture: own --root, busybox imported, everything removed on dispose and
/// leaked processes failed), plus what the reliability suite needs on top: commands with an environment (fail points),
/// generous timeouts for a loaded 2-core machine, every container and network the root ever had (for the leak check,
/// which must find the host objects of a container whose record a crash lost), and the leak check itself.
/// </summary>
public sealed class Rig : IDisposable
{
    /// <summary>Per command: 50 containers starting at once on 2 busy cores take minutes, not seconds.</summary>
    public static readonly TimeSpan Patience = TimeSpan.FromMinutes(5);

    public MiniDocker Md { get; }
    public string Root => Md.Root;
    public string Scope { get; }
    private readonly ConcurrentDictionary<string, byte> _containers = new(), _networks = new();
    private readonly ConcurrentBag<string> _subnets = new();

    public Rig(bool importBusybox = true, string? root = null)
    {
        Md = root is null ? new MiniDocker(importBusybox) : new MiniDocker(importBusybox, root: root);
        Scope = StateRoots.ScopeOf(Root);
    }

    public Result Run(params string[] args) => RunEnv(null, args);

    public Result RunEnv(IReadOnlyDictionary<string, string>? env, params string[] args)
    {
        var psi = new ProcessStartInfo(MiniDocker.Binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            StandardOutputEncoding = Encoding.UTF8,
        };
        psi.Environment.Remove("MINIDOCKER_FAILPOINT");
        foreach (var (k, v) in env ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        psi.ArgumentList.Add("--root");
        psi.ArgumentList.Add(Root);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(Patience))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"minidocker {string.Join(' ', args)} did not finish in {Patience}");
        }
        Remember();
        return new Result(p.ExitCode, stdout.Result, stderr.Result);
    }

    public Result Crash(string point, params string[] args) =>
        RunEnv(new Dictionary<string, string> { ["MINIDOCKER_FAILPOINT"] = point }, args);

    /// <summary>Runs and asserts success; returns stdout trimmed.</summary>
    public string Ok(params string[] args)
    {
        var r = Run(args);
        Assert.True(r.ExitCode == 0, $"minidocker {string.Join(' ', args)}: {r}");
        return r.Stdout.Trim();
    }

    /// <summary>A user network on a random 10.X.Y.0/24 (other suites run beside this one).</summary>
    public (string Name, string Subnet, string Gateway) Network(string? name = null)
    {
        name ??= "rel" + Guid.NewGuid().ToString("N")[..8];
        for (int attempt = 0; ; attempt++)
        {
            string prefix = $"10.{Random.Shared.Next(150, 250)}.{Random.Shared.Next(0, 256)}";
            var r = Run("network", "create", "--subnet", prefix + ".0/24", name);
            if (r.ExitCode == 0)
            {
                _subnets.Add(prefix + ".");
                return (name, prefix + ".0/24", prefix + ".1");
            }
            if (attempt > 10 || !r.Stderr.Contains("overlaps")) throw new InvalidOperationException("network create: " + r);
        }
    }

    public void TrackSubnet(string prefix) => _subnets.Add(prefix);

    /// <summary>Notes every container and network the root has now, so the leak check knows their host objects
    /// even after a crash lost their records.</summary>
    public void Remember()
    {
        foreach (var dir in Md.ContainerDirs()) _containers.TryAdd(Path.GetFileName(dir), 0);
        foreach (var net in Md.Networks()) _networks.TryAdd(net, 0);
    }

    public IReadOnlyCollection<string> ContainersEverSeen => _containers.Keys.ToList();

    /// <summary>The host objects of this root that exist now (empty: nothing leaked). With
    /// <paramref name="networksToo"/> false, the networks' own bridges and rules are allowed (they still exist).</summary>
    public List<string> Leaks(bool networksToo = true)
    {
        Remember();
        return HostLeaks.Find(Root, Scope, _containers.Keys.ToList(), networksToo ? _networks.Keys.ToList() : [],
            networksToo ? _subnets.ToList() : [], networksToo);
    }

    public void AssertNoLeaks(bool networksToo = true)
    {
        var leaks = Leaks(networksToo);
        Report.Count("leak checks");
        Report.Count("leaks found (must be 0)", leaks.Count);
        Assert.True(leaks.Count == 0, "leaked: " + string.Join("; ", leaks));
    }

    /// <summary>Every JSON state file of the root parses (a reader never sees half a record).</summary>
    public void AssertStateParses()
    {
        var bad = StateFiles.Unparsable(Root);
        Report.Count("state-file checks");
        Report.Count("unparsable state files (must be 0)", bad.Count);
        Assert.True(bad.Count == 0, "unparsable state files: " + string.Join("; ", bad));
    }

    /// <summary>Removes every container and network of the root and asserts the host holds nothing of it.</summary>
    public void CleanAndAssertNoLeaks()
    {
        var ids = Run("ps", "-aq").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (ids.Length > 0) Run(["rm", "-f", .. ids]);
        Run("network", "reconcile");
        foreach (var net in Md.Networks()) Run("network", "rm", net);
        AssertStateParses();
        AssertNoLeaks();
    }

    public void Dispose() => Md.Dispose();
}

/// <summary>State files of a root: the JSON records outside the containers' and images' file trees.</summary>
public static class StateFiles
{
    public static IEnumerable<string> Json(string root)
    {
        // Commands run while this reads: any directory may go between listing it and reading it.
        static string[] Safe(Func<string[]> list)
        {
            try { return list(); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return []; }
        }
        var dirs = new List<string> { root, Path.Combine(root, "images") };
        foreach (var sub in new[] { "containers", "networks" })
        {
            string d = Path.Combine(root, sub);
            dirs.Add(d);
            dirs.AddRange(Safe(() => Directory.GetDirectories(d, "*", SearchOption.AllDirectories))
                .Where(x => !x.Contains("/rootfs") && !x.Contains("/upper") && !x.Contains("/work")));
        }
        return dirs.SelectMany(dir => Safe(() => Directory.GetFiles(dir, "*.json"))).ToList();
    }

    public static List<string> Unparsable(string root)
    {
        var bad = new List<string>();
        foreach (var f in Json(root))
        {
            try { using var _ = JsonDocument.Parse(File.ReadAllBytes(f)); }
            catch (IOException) { } // removed meanwhile
            catch (JsonException e) { bad.Add($"{f}: {e.Message}"); }
        }
        return bad;
    }

    /// <summary>Temp files of atomic writes (".NAME.tmp-PID-GUID") a killed writer left.</summary>
    public static List<string> Temps(string root) =>
        Directory.Exists(root)
            ? Directory.EnumerateFiles(root, ".*.tmp-*", SearchOption.AllDirectories).Where(f => !f.Contains("/rootfs/")).ToList()
            : [];
}
