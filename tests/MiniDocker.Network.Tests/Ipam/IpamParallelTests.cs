using System.Diagnostics;
using System.Net;

namespace MiniDocker.Network.Tests;

public sealed class IpamParallelTests : IDisposable
{
    private readonly TempStateRoot _root = new();

    public void Dispose() => _root.Dispose();

    [Fact]
    public async Task FiftyProcessesAllocatingAtOnceGetFiftyDistinctAddresses()
    {
        const int count = 50;
        string assembly = Path.Combine(AppContext.BaseDirectory, "MiniDocker.Network.Tests.dll");
        string dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";
        string go = Path.Combine(_root.Path, "go");
        var children = new List<Process>();
        try
        {
            for (int i = 0; i < count; i++)
            {
                var start = new ProcessStartInfo(dotnet)
                {
                    RedirectStandardOutput = true,
                    RedirectStandardError = true,
                    UseShellExecute = false,
                };
                start.ArgumentList.Add(assembly);
                start.Environment["DOTNET_STARTUP_HOOKS"] = assembly;
                start.Environment[StartupHook.Variable] = $"{_root.Path}|par|10.77.0.0/24|child{i}|{go}";
                children.Add(Process.Start(start)!);
            }
            // Release all children at once so their read-modify-write cycles really overlap.
            File.WriteAllText(go, "");

            var results = new List<(int ExitCode, string Output, string Error)>();
            foreach (Process child in children)
            {
                Task<string> output = child.StandardOutput.ReadToEndAsync();
                Task<string> error = child.StandardError.ReadToEndAsync();
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
                await child.WaitForExitAsync(timeout.Token);
                results.Add((child.ExitCode, await output, await error));
            }

            Assert.All(results, r => Assert.True(r.ExitCode == 0, $"child failed: {r.Error}"));
            var addresses = results.Select(r => IPAddress.Parse(r.Output)).ToList();
            Assert.Equal(count, addresses.Distinct().Count());
            Assert.DoesNotContain(IPAddress.Parse("10.77.0.0"), addresses);
            Assert.DoesNotContain(IPAddress.Parse("10.77.0.1"), addresses);
            Assert.DoesNotContain(IPAddress.Parse("10.77.0.255"), addresses);
            IReadOnlyDictionary<IPAddress, string> recorded = new Ipam(_root.Path).Allocations("par");
            Assert.Equal(count, recorded.Count);
            Assert.Equal(addresses.Select(a => a.ToString()).Order(), recorded.Keys.Select(a => a.ToString()).Order());
        }
        finally
        {
            foreach (Process child in children)
            {
                if (!child.HasExited)
                    child.Kill();
                child.Dispose();
            }
        }
    }

    [Fact]
    public void FiftyThreadsEachWithTheirOwnLockGetDistinctAddresses()
    {
        Subnet subnet = Subnet.Parse("10.78.0.0/24");
        // A separate Ipam per thread and a separate open() of the lock file per call: flock excludes them like processes.
        var addresses = new IPAddress[50];
        Parallel.For(0, addresses.Length, new ParallelOptions { MaxDegreeOfParallelism = 50 }, i =>
            addresses[i] = new Ipam(_root.Path).Allocate("thr", subnet, subnet.FirstHost, $"t{i}", null));

        Assert.Equal(50, addresses.Distinct().Count());
        Assert.Equal(50, new Ipam(_root.Path).Allocations("thr").Count);
    }
}
