using System.Globalization;
using System.Text.RegularExpressions;

namespace MiniDocker.Runtime.Cgroups;

/// <summary>
/// A container's resource limits, in Docker's HostConfig units and names (inspect shows them as they are). Zero means
/// "not set" (no limit), as in Docker; <see cref="MemorySwap"/> -1 means unlimited swap.
/// </summary>
public sealed record CgroupResources
{
    /// <summary>-m/--memory, bytes.</summary>
    public long Memory { get; init; }
    /// <summary>--memory-swap: memory plus swap, bytes; -1 unlimited; 0 unset (Docker then makes it twice Memory).</summary>
    public long MemorySwap { get; init; }
    /// <summary>--memory-reservation (soft limit), bytes.</summary>
    public long MemoryReservation { get; init; }
    /// <summary>--cpus in billionths of a CPU.</summary>
    public long NanoCpus { get; init; }
    /// <summary>--cpu-shares: relative weight (1024 is one share of the default).</summary>
    public long CpuShares { get; init; }
    public string CpusetCpus { get; init; } = "";
    public string CpusetMems { get; init; } = "";
    /// <summary>--pids-limit; null or 0 or less: unlimited.</summary>
    public long? PidsLimit { get; init; }

    /// <summary>The CFS period Docker uses for --cpus (100 ms), and the quota that gives <see cref="NanoCpus"/>.</summary>
    public const long CpuPeriodMicros = 100_000;
    public long CpuQuotaMicros => NanoCpus * CpuPeriodMicros / 1_000_000_000;
}

/// <summary>--ulimit NAME=SOFT[:HARD]: set with setrlimit in the container's init before the program runs.</summary>
public sealed record Ulimit(string Name, long Soft, long Hard);

/// <summary>The resource flags of run and update, as typed (null: not given).</summary>
public sealed record ResourceRequest
{
    public string? Memory { get; init; }
    public string? MemorySwap { get; init; }
    public string? MemoryReservation { get; init; }
    public string? Cpus { get; init; }
    public string? CpuShares { get; init; }
    public string? CpusetCpus { get; init; }
    public string? CpusetMems { get; init; }
    public string? PidsLimit { get; init; }
    public List<string> Ulimits { get; init; } = new();

    public bool IsEmpty => Memory is null && MemorySwap is null && MemoryReservation is null && Cpus is null &&
        CpuShares is null && CpusetCpus is null && CpusetMems is null && PidsLimit is null && Ulimits.Count == 0;
}

/// <summary>Docker's parsing and checks of the resource flags; every refusal is one line with exit status 125.</summary>
public static partial class ResourceLimits
{
    public const long MinimumMemory = 6 * 1024 * 1024; // Docker's linuxMinMemory

    /// <summary>The limits of a new container (<paramref name="current"/> null) or of one being updated: the flags
    /// given replace the current values, then Docker's checks run on the result.</summary>
    public static CgroupResources Build(ResourceRequest request, CgroupResources? current = null, int? onlineCpus = null)
    {
        var r = current ?? new CgroupResources();
        if (request.Memory is { } m) r = r with { Memory = ParseMemory(m, "-m, --memory") };
        if (request.MemorySwap is { } s) r = r with { MemorySwap = s.Trim() == "-1" ? -1 : ParseMemory(s, "--memory-swap") };
        if (request.MemoryReservation is { } mr) r = r with { MemoryReservation = ParseMemory(mr, "--memory-reservation") };
        if (request.Cpus is { } c) r = r with { NanoCpus = ParseCpus(c) };
        if (request.CpuShares is { } cs) r = r with { CpuShares = ParseInteger(cs, "-c, --cpu-shares") };
        if (request.CpusetCpus is { } cc) r = r with { CpusetCpus = ParseCpuset(cc, "cpus") };
        if (request.CpusetMems is { } cm) r = r with { CpusetMems = ParseCpuset(cm, "mems") };
        if (request.PidsLimit is { } p)
        {
            long pids = ParseInteger(p, "--pids-limit");
            r = r with { PidsLimit = pids > 0 ? pids : null };
        }

        if (r.Memory != 0 && r.Memory < MinimumMemory) throw Invalid("Minimum memory limit allowed is 6MB");
        if (r.Memory < 0) throw Invalid("Minimum memory limit allowed is 6MB");
        if (r.MemorySwap > 0 && r.Memory == 0)
            throw Invalid("You should always set the Memory limit when using Memoryswap limit, see usage");
        if (r.MemorySwap < -1) throw Invalid("invalid --memory-swap: it must be -1 (unlimited) or a size");
        // Docker's default when only -m is given: as much swap again (memory+swap = twice memory).
        if (current is null && r.Memory > 0 && r.MemorySwap == 0) r = r with { MemorySwap = r.Memory * 2 };
        if (r.Memory > 0 && r.MemorySwap > 0 && r.MemorySwap < r.Memory)
            throw Invalid(current is not null && request.MemorySwap is null
                ? "Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time"
                : "Minimum memoryswap limit should be larger than memory limit, see usage");
        if (r.MemoryReservation < 0 || (r.MemoryReservation > 0 && r.MemoryReservation < MinimumMemory))
            throw Invalid("Minimum memory reservation allowed is 6MB");
        if (r.Memory > 0 && r.MemoryReservation > 0 && r.Memory < r.MemoryReservation)
            throw Invalid("Minimum memory limit can not be less than memory reservation limit, see usage");
        int cpus = onlineCpus ?? Environment.ProcessorCount;
        if (r.NanoCpus < 0 || r.NanoCpus > cpus * 1_000_000_000L || (r.NanoCpus > 0 && r.NanoCpus < 10_000_000))
            throw Invalid($"Range of CPUs is from 0.01 to {cpus}.00, as there are only {cpus} CPUs available");
        if (r.CpuShares < 0) throw Invalid($"invalid --cpu-shares {r.CpuShares}: it must not be negative");
        return r;
    }

    /// <summary>Each flag's value on its own (`update` checks them before touching any container).</summary>
    public static void CheckSyntax(ResourceRequest request)
    {
        if (request.Memory is { } m) ParseMemory(m, "-m, --memory");
        if (request.MemorySwap is { } s && s.Trim() != "-1") ParseMemory(s, "--memory-swap");
        if (request.MemoryReservation is { } mr) ParseMemory(mr, "--memory-reservation");
        if (request.Cpus is { } c) ParseCpus(c);
        if (request.CpuShares is { } cs) ParseInteger(cs, "-c, --cpu-shares");
        if (request.CpusetCpus is { } cc) ParseCpuset(cc, "cpus");
        if (request.CpusetMems is { } cm) ParseCpuset(cm, "mems");
        if (request.PidsLimit is { } p) ParseInteger(p, "--pids-limit");
        ParseUlimits(request.Ulimits);
    }

    /// <summary>Whether the cpus and memory nodes asked for exist on this host (Docker's "not available" check).</summary>
    public static void CheckAvailable(CgroupResources r, string cpusOnline, string memsOnline)
    {
        foreach (var (asked, online, what) in new[] { (r.CpusetCpus, cpusOnline, "CPUs"), (r.CpusetMems, memsOnline, "memory nodes") })
        {
            if (asked.Length == 0) continue;
            var available = ExpandCpuset(online.Trim());
            if (!ExpandCpuset(asked).IsSubsetOf(available))
                throw Invalid($"Requested {what} are not available - requested {asked}, available: {online.Trim()}");
        }
    }

    /// <summary><see cref="CheckAvailable(CgroupResources, string, string)"/> against this host's online CPUs and nodes.</summary>
    public static void CheckAvailable(CgroupResources r)
    {
        static string Read(string path, string fallback) => File.Exists(path) ? File.ReadAllText(path) : fallback;
        CheckAvailable(r, Read("/sys/devices/system/cpu/online", "0"), Read("/sys/devices/system/node/online", "0"));
    }

    [GeneratedRegex(@"^\s*(\d+(?:\.\d+)?)\s?([kmgtp])?(?:i?b)?\s*$", RegexOptions.IgnoreCase)]
    private static partial Regex SizePattern();

    /// <summary>Docker's RAMInBytes: "512", "512b", "64k", "16m", "1.5g", "2GiB"; units are powers of 1024.</summary>
    public static long ParseMemory(string value, string flag)
    {
        var match = SizePattern().Match(value);
        if (!match.Success) throw InvalidFlag(value, flag, $"invalid size: '{value}'");
        decimal number = decimal.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
        int power = match.Groups[2].Success ? "kmgtp".IndexOf(char.ToLowerInvariant(match.Groups[2].Value[0])) + 1 : 0;
        try { return (long)(number * (decimal)Math.Pow(1024, power)); }
        catch (OverflowException) { throw InvalidFlag(value, flag, $"invalid size: '{value}'"); }
    }

    /// <summary>--cpus "1.5" to billionths of a CPU, as Docker's NanoCPUs.</summary>
    public static long ParseCpus(string value)
    {
        if (!decimal.TryParse(value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var cpus))
            throw InvalidFlag(value, "--cpus", $"failed to parse {value} as a rational number");
        try { return (long)decimal.Round(cpus * 1_000_000_000m); }
        catch (OverflowException) { throw InvalidFlag(value, "--cpus", "value is too precise"); }
    }

    private static long ParseInteger(string value, string flag) =>
        long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long n) ? n
            : throw InvalidFlag(value, flag, $"strconv.ParseInt: parsing \"{value}\": invalid syntax");

    [GeneratedRegex(@"^\d+(-\d+)?(,\d+(-\d+)?)*$")]
    private static partial Regex CpusetPattern();

    /// <summary>"0-2,4": a list of numbers and ascending ranges (the kernel's cpuset list format).</summary>
    public static string ParseCpuset(string value, string what)
    {
        if (!CpusetPattern().IsMatch(value)) throw Invalid($"Invalid value {value} for cpuset {what}");
        try { ExpandCpuset(value); }
        catch (FormatException) { throw Invalid($"Invalid value {value} for cpuset {what}"); }
        return value;
    }

    public static HashSet<int> ExpandCpuset(string list)
    {
        var result = new HashSet<int>();
        foreach (var part in list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var bounds = part.Split('-');
            if (!int.TryParse(bounds[0], CultureInfo.InvariantCulture, out int low) ||
                !int.TryParse(bounds[^1], CultureInfo.InvariantCulture, out int high) || high < low || high - low > 65536)
                throw new FormatException(part);
            for (int i = low; i <= high; i++) result.Add(i);
        }
        return result;
    }

    /// <summary>Docker's --ulimit names (go-units), each a setrlimit resource.</summary>
    public static readonly IReadOnlyDictionary<string, int> UlimitResources = new Dictionary<string, int>
    {
        ["core"] = Linux.Libc.RLIMIT_CORE, ["cpu"] = Linux.Libc.RLIMIT_CPU, ["data"] = Linux.Libc.RLIMIT_DATA,
        ["fsize"] = Linux.Libc.RLIMIT_FSIZE, ["locks"] = Linux.Libc.RLIMIT_LOCKS, ["memlock"] = Linux.Libc.RLIMIT_MEMLOCK,
        ["msgqueue"] = Linux.Libc.RLIMIT_MSGQUEUE, ["nice"] = Linux.Libc.RLIMIT_NICE, ["nofile"] = Linux.Libc.RLIMIT_NOFILE,
        ["nproc"] = Linux.Libc.RLIMIT_NPROC, ["rss"] = Linux.Libc.RLIMIT_RSS, ["rtprio"] = Linux.Libc.RLIMIT_RTPRIO,
        ["rttime"] = Linux.Libc.RLIMIT_RTTIME, ["sigpending"] = Linux.Libc.RLIMIT_SIGPENDING, ["stack"] = Linux.Libc.RLIMIT_STACK,
        ["as"] = Linux.Libc.RLIMIT_AS,
    };

    /// <summary>"nofile=1024:2048" or "nofile=1024" (hard = soft); -1 is unlimited. A name given twice: the last wins.</summary>
    public static List<Ulimit> ParseUlimits(IEnumerable<string> values)
    {
        var result = new List<Ulimit>();
        foreach (var value in values)
        {
            var u = ParseUlimit(value);
            result.RemoveAll(x => x.Name == u.Name);
            result.Add(u);
        }
        return result;
    }

    public static Ulimit ParseUlimit(string value)
    {
        int eq = value.IndexOf('=');
        if (eq <= 0) throw InvalidFlag(value, "--ulimit", $"invalid ulimit argument: {value}");
        string name = value[..eq];
        if (!UlimitResources.ContainsKey(name)) throw InvalidFlag(value, "--ulimit", $"invalid ulimit type: {name}");
        var limits = value[(eq + 1)..].Split(':');
        if (limits.Length > 2) throw InvalidFlag(value, "--ulimit", $"too many limit value arguments - {value[(eq + 1)..]}, can only have up to two, `soft[:hard]`");
        long Limit(string s) => long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long n) && n >= -1 ? n
            : throw InvalidFlag(value, "--ulimit", $"invalid ulimit value: {s}");
        long soft = Limit(limits[0]);
        long hard = limits.Length == 2 ? Limit(limits[1]) : soft;
        // -1 is RLIM_INFINITY, above every number.
        if (hard != -1 && (soft == -1 || soft > hard))
            throw InvalidFlag(value, "--ulimit", $"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}");
        return new Ulimit(name, soft, hard);
    }

    private static ContainerException Invalid(string message) => new(message, Linux.ExitCodes.RuntimeError);

    private static ContainerException InvalidFlag(string value, string flag, string reason) =>
        Invalid($"invalid argument \"{value}\" for \"{flag}\" flag: {reason}");
}
