using System.Buffers.Binary;
using System.Diagnostics;
using MiniDocker.Runtime.Cgroups;

namespace MiniDocker.Runtime.Tests;

/// <summary>
/// cgroup v2's device program: its encoding, and the kernel's verdicts with it attached to a cgroup of the unified
/// hierarchy (mounted at /sys/fs/cgroup/unified on this hybrid host, /sys/fs/cgroup on a v2 one).
/// </summary>
public sealed class BpfDeviceFilterTests
{
    [Fact]
    public void A_rule_is_tested_field_by_field_and_jumps_past_its_verdict_when_a_field_differs()
    {
        byte[] program = BpfDeviceFilter.Assemble([new DeviceRule('c', 1, 3, "rw", true)]);
        // 6 loads + (type, access x3, major, minor, mov, exit) + final mov, exit
        Assert.Equal((6 + 8 + 2) * 8, program.Length);
        var first = program.AsSpan(6 * 8, 8);
        Assert.Equal(0x55, first[0]);                                        // JNE imm
        Assert.Equal(2, first[1]);                                           // R2, the type
        Assert.Equal(7, BinaryPrimitives.ReadInt16LittleEndian(first[2..])); // past the 6 tests left and the verdict's mov
        Assert.Equal(2, BinaryPrimitives.ReadInt32LittleEndian(first[4..])); // BPF_DEVCG_DEV_CHAR
        var verdict = program.AsSpan(12 * 8, 8);
        Assert.Equal(0xb7, verdict[0]);
        Assert.Equal(1, BinaryPrimitives.ReadInt32LittleEndian(verdict[4..]));
        var deny = program.AsSpan(14 * 8, 8);
        Assert.Equal(0xb7, deny[0]);
        Assert.Equal(0, BinaryPrimitives.ReadInt32LittleEndian(deny[4..]));
    }

    [Fact]
    public void Attached_to_a_cgroup_the_program_allows_dockers_devices_and_refuses_the_rest()
    {
        string output = RunInCgroup(DeviceRule.Defaults,
            "(: < /dev/null) && echo null=ok; (exec 3>/dev/full) && echo full=open; " +
            "(: < /dev/kmsg) 2>&1 | grep -o 'not permitted'; (: < /dev/tty1) 2>&1 | grep -o 'not permitted'; " +
            "mknod /tmp/mdk-bpf-$$ c 1 11 && echo mknod=ok; (: < /tmp/mdk-bpf-$$) 2>&1 | grep -o 'not permitted'; rm -f /tmp/mdk-bpf-$$");
        Assert.Equal(["null=ok", "full=open", "not permitted", "not permitted", "mknod=ok", "not permitted"], Lines(output));
    }

    [Fact]
    public void A_later_rule_wins_over_an_earlier_one_as_in_cgroup_v1()
    {
        // Allow /dev/full, then deny writing it: reads still work, the write open is refused before ENOSPC could be.
        string output = RunInCgroup([new DeviceRule('c', 1, 7, "rwm", true), new DeviceRule('c', 1, 7, "w", false)],
            "(: < /dev/full) && echo read=ok; (echo x > /dev/full) 2>&1 | grep -c 'not permitted'");
        Assert.Equal(["read=ok", "1"], Lines(output));
    }

    [Fact]
    public void Allow_all_allows_what_the_defaults_refuse()
    {
        string output = RunInCgroup([DeviceRule.AllowAll], "(: < /dev/kmsg) && echo kmsg=ok");
        Assert.Equal(["kmsg=ok"], Lines(output));
    }

    private static string[] Lines(string s) => s.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Trim()).ToArray();

    /// <summary>Runs <paramref name="script"/> in a shell that is moved into a fresh cgroup with the program attached
    /// before it reads its go-ahead; the cgroup is removed afterwards.</summary>
    private static string RunInCgroup(IReadOnlyList<DeviceRule> rules, string script)
    {
        string mount = CgroupV2Mount() ?? throw new InvalidOperationException("no cgroup2 hierarchy is mounted on this host");
        string dir = Path.Combine(mount, "mdk-bpf-test-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        try
        {
            BpfDeviceFilter.Attach(dir, rules);
            var psi = new ProcessStartInfo("/bin/sh", ["-c", "read go; " + script])
            { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
            using var p = Process.Start(psi)!;
            File.WriteAllText(Path.Combine(dir, "cgroup.procs"), p.Id.ToString());
            p.StandardInput.WriteLine("go");
            p.StandardInput.Close();
            string output = p.StandardOutput.ReadToEnd();
            Assert.True(p.WaitForExit(30_000));
            return output;
        }
        finally
        {
            for (int i = 0; i < 100 && Directory.Exists(dir); i++)
            {
                try { Directory.Delete(dir); } catch (IOException) { Thread.Sleep(20); }
            }
        }
    }

    private static string? CgroupV2Mount() => File.ReadLines("/proc/self/mountinfo")
        .Select(l => l.Split(' ')).Where(f => Array.IndexOf(f, "-") is var d && d > 0 && f[d + 1] == "cgroup2" && f[3] == "/")
        .Select(f => f[4]).FirstOrDefault();
}
