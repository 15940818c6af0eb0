import Hummingbird
import SwitchboardCore

/// `GET /admin/config`: the running configuration with every secret masked (`ConfigReport`). Admin role.
enum ConfigAPI {
    static func add(to admin: RouterGroup<GatewayRequestContext>, config: GatewayConfig, source: String) {
        // The configuration does not change while the gateway runs: the report is made once.
        let report = ConfigReport.json(config, source: source).jsonText
        admin.group("config").add(middleware: RoleMiddleware(.admin)).get { _, _ in jsonResponse(report) }
    }
}
