using System.CommandLine;
using MiniDocker.Network.Diagnostics;

namespace MiniDocker.Cli.Commands;

/// <summary>`minidocker doctor [--netns PATH]`: OK/WARN/FAIL per check with what to do; exit 1 only on a FAIL.</summary>
public static class DoctorCommand
{
    public static Command Create()
    {
        var netns = new Option<string?>("--netns") { Description = "Check this network namespace's settings (e.g. /run/netns/NAME) instead of the host's" };
        var doctor = new Command("doctor", "Check the host for what bridge networking and the labs need, and say what to do") { netns };
        doctor.SetAction(p =>
        {
            string? path = p.GetValue(netns);
            if (path is not null && !File.Exists(path))
                throw new UsageException($"--netns {path}: no such file", "doctor");
            var results = HostDoctor.Check(HostDoctor.Read(path));
            foreach (var r in results)
                Console.WriteLine($"{r.Level,-4} {r.Name}: {r.Found}{(r.Fix is null ? "" : $"\n       -> {r.Fix}")}");
            return results.Any(r => r.Level == CheckLevel.FAIL) ? 1 : 0;
        });
        return doctor;
    }
}
