using Fabric.Messages.Intent;

namespace Fabric.Actors.Config;

/// <summary>Reads <c>fabric.intent</c> (hocon/fabric.conf) into <see cref="IntentParseLimits"/>, once.</summary>
public static class IntentLimitsSettings
{
    public static IntentParseLimits From(Akka.Configuration.Config config)
    {
        var section = config.GetConfig("fabric.intent");
        if (section is null || section.IsEmpty) return IntentParseLimits.Default;
        var defaults = IntentParseLimits.Default;
        return new IntentParseLimits(
            section.GetByteSize("max-bytes", defaults.MaxBytes) ?? defaults.MaxBytes,
            section.GetInt("max-values", defaults.MaxValues),
            section.GetInt("max-errors", defaults.MaxErrors),
            section.GetTimeSpan("parse-timeout", defaults.Timeout)).Validated();
    }
}
