using System.CommandLine;
using MiniDocker.Runtime.Cgroups;

namespace MiniDocker.Cli.Commands;

/// <summary>The resource flags of `run` (all) and `update` (all but --ulimit), with Docker's names; a new set per
/// command, as an option belongs to one command.</summary>
public sealed class ResourceOptions
{
    private readonly Option<string?> _memory = new("--memory", "-m") { Description = "Memory limit (bytes, or with a unit: b, k, m, g)" };
    private readonly Option<string?> _memorySwap = new("--memory-swap")
    { Description = "Memory plus swap limit: a size, or -1 for unlimited swap (default: twice --memory)" };
    private readonly Option<string?> _memoryReservation = new("--memory-reservation") { Description = "Memory soft limit" };
    private readonly Option<string?> _cpus = new("--cpus") { Description = "Number of CPUs (e.g. 0.5)" };
    private readonly Option<string?> _cpuShares = new("--cpu-shares", "-c", "-cpushare") { Description = "CPU shares (relative weight, default 1024)" };
    private readonly Option<string?> _cpusetCpus = new("--cpuset-cpus", "-cpuset") { Description = "CPUs in which to allow execution (0-3, 0,1)" };
    private readonly Option<string?> _cpusetMems = new("--cpuset-mems") { Description = "Memory nodes in which to allow execution (0-3, 0,1)" };
    private readonly Option<string?> _pidsLimit = new("--pids-limit") { Description = "Tune container pids limit (-1 for unlimited)" };
    private readonly Option<string[]> _ulimit = new("--ulimit") { Description = "Ulimit options: NAME=SOFT[:HARD] (nofile, nproc, core, ...)" };
    private readonly bool _withUlimit;

    private ResourceOptions(bool withUlimit) => _withUlimit = withUlimit;

    public static ResourceOptions ForRun() => new(withUlimit: true);
    public static ResourceOptions ForUpdate() => new(withUlimit: false);

    public IEnumerable<Option> All =>
        new Option[] { _memory, _memorySwap, _memoryReservation, _cpus, _cpuShares, _cpusetCpus, _cpusetMems, _pidsLimit }
            .Concat(_withUlimit ? [_ulimit] : []);

    public ResourceRequest Request(ParseResult p) => new()
    {
        Memory = p.GetValue(_memory),
        MemorySwap = p.GetValue(_memorySwap),
        MemoryReservation = p.GetValue(_memoryReservation),
        Cpus = p.GetValue(_cpus),
        CpuShares = p.GetValue(_cpuShares),
        CpusetCpus = p.GetValue(_cpusetCpus),
        CpusetMems = p.GetValue(_cpusetMems),
        PidsLimit = p.GetValue(_pidsLimit),
        Ulimits = _withUlimit ? (p.GetValue(_ulimit) ?? []).ToList() : [],
    };
}
