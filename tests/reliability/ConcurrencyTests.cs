using System.Text.Json;

namespace MiniDocker.IntegrationTests.Reliability;

/// <summary>Many minidocker commands at once on one root: nothing double-booked, nothing lost, nothing leaked.</summary>
public sealed class ConcurrencyTests : IDisposable
{
    private readonly Rig _rig = new();

    public void Dispose() => _rig.Dispose();

    private static Result[] AllAtOnce(int n, Func<int, Result> command)
    {
        var results = new Result[n];
        var threads = Enumerable.Range(0, n).Select(i => new Thread(() => results[i] = command(i))).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        return results;
    }

    [Fact]
    public void Fifty_detached_runs_publishing_ports_then_fifty_rm_f_leave_nothing()
    {
        const int Containers = 50, Contested = 5;
        var (net, _, _) = _rig.Network();
        // 40 containers with a port of their own, 10 in pairs on 5 ports: exactly one of each pair wins.
        // Distinct: the kernel may hand HostPorts.Free() the same ephemeral port twice, which would contest it by accident.
        var distinct = new HashSet<int>();
        while (distinct.Count < Containers - Contested) distinct.Add(HostPorts.Free());
        var ports = distinct.Take(Containers - 2 * Contested).ToList();
        var contested = distinct.Skip(Containers - 2 * Contested).ToList();
        var wanted = ports.Concat(contested).Concat(contested).ToList();

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var runs = AllAtOnce(Containers, i => _rig.Run("run", "-d", "--net", net, "-p", $"127.0.0.1:{wanted[i]}:80", "busybox",
            "sh", "-c", "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 80 -h /www"));
        Report.Figure("50 concurrent run -d (one network, each publishing a port)", $"{clock.Elapsed.TotalSeconds:F0} s");
        Report.Count("concurrency: commands", Containers);

        for (int i = 0; i < ports.Count; i++) Assert.True(runs[i].ExitCode == 0, $"run on port {wanted[i]}: {runs[i]}");
        for (int c = 0; c < Contested; c++)
        {
            var pair = new[] { runs[ports.Count + c], runs[ports.Count + Contested + c] };
            Assert.True(pair.Count(r => r.ExitCode == 0) == 1, $"port {contested[c]}: {pair[0]}\n{pair[1]}");
            var loser = pair.Single(r => r.ExitCode != 0);
            Assert.Equal(125, loser.ExitCode);
            Assert.Single(loser.Stderr.TrimEnd('\n').Split('\n'));
            Assert.Contains(contested[c].ToString(), loser.Stderr);
        }

        // Every winner runs, with an address of its own, and its port reaches it (its hostname is its short id).
        var winners = Enumerable.Range(0, Containers).Where(i => runs[i].ExitCode == 0).ToList();
        var addresses = new HashSet<string>();
        foreach (int i in winners)
        {
            string id = runs[i].Stdout.Trim();
            using var inspect = JsonDocument.Parse(_rig.Ok("inspect", id));
            var c = inspect.RootElement.ValueKind == JsonValueKind.Array ? inspect.RootElement[0] : inspect.RootElement;
            Assert.True(c.GetProperty("State").GetProperty("Running").GetBoolean(), $"{id} does not run");
            Assert.True(addresses.Add(c.GetProperty("NetworkSettings").GetProperty("Networks").GetProperty(net).GetProperty("IPAddress").GetString()!));
            Assert.Equal(id[..12], HostPorts.Fetch($"http://127.0.0.1:{wanted[i]}/").Trim());
        }
        Assert.Equal(Containers - Contested, addresses.Count);

        clock.Restart();
        var removals = AllAtOnce(winners.Count, k => _rig.Run("rm", "-f", runs[winners[k]].Stdout.Trim()));
        Report.Figure("45 concurrent rm -f", $"{clock.Elapsed.TotalSeconds:F0} s");
        Assert.All(removals, r => Assert.True(r.ExitCode == 0, r.ToString()));
        Assert.Empty(_rig.Md.ContainerDirs());
        Assert.Empty(_rig.Leaks(networksToo: false)); // the network stays: its containers' objects are gone
        _rig.CleanAndAssertNoLeaks();
    }

    [Fact]
    public void Concurrent_network_create_of_one_name_creates_it_once()
    {
        string name = "rel" + Guid.NewGuid().ToString("N")[..8];
        string prefix = $"10.{Random.Shared.Next(150, 250)}.{Random.Shared.Next(0, 256)}.";
        _rig.TrackSubnet(prefix);
        var results = AllAtOnce(10, _ => _rig.Run("network", "create", "--subnet", prefix + "0/24", name));
        Report.Count("concurrency: commands", 10);
        Assert.True(results.Count(r => r.ExitCode == 0) == 1, string.Join("\n", results.Select(r => r.ToString())));
        Assert.All(results.Where(r => r.ExitCode != 0), r =>
        {
            Assert.Equal(125, r.ExitCode);
            Assert.Single(r.Stderr.TrimEnd('\n').Split('\n'));
        });
        Assert.Equal([name], _rig.Md.Networks());
        Assert.Single(Sh.Run("ip", "-o", "-4", "addr").Split('\n'), l => l.Contains(" inet " + prefix + "1/"));
        _rig.CleanAndAssertNoLeaks();
    }

    [Fact]
    public void Concurrent_run_with_one_name_starts_exactly_one()
    {
        string name = "same" + Guid.NewGuid().ToString("N")[..6];
        var results = AllAtOnce(10, _ => _rig.Run("run", "-d", "--net", "none", "--name", name, "busybox", "sleep", "600"));
        Report.Count("concurrency: commands", 10);
        Assert.True(results.Count(r => r.ExitCode == 0) == 1, string.Join("\n", results.Select(r => r.ToString())));
        Assert.All(results.Where(r => r.ExitCode != 0), r =>
        {
            Assert.Equal(125, r.ExitCode);
            Assert.Single(r.Stderr.TrimEnd('\n').Split('\n'));
            Assert.Contains(name, r.Stderr);
        });
        Assert.Single(_rig.Md.ContainerDirs());
        _rig.CleanAndAssertNoLeaks();
    }
}
