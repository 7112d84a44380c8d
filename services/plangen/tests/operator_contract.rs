//! The operator knows the services only by constants (subcommands, ports); this checks those
//! constants against the services themselves, so the two cannot drift apart.

use std::process::Command;

use plangen_operator::constants::Service;

#[test]
fn every_service_the_operator_deploys_is_a_plangen_subcommand() {
    for service in Service::ALL {
        let out = Command::new(env!("CARGO_BIN_EXE_plangen"))
            .args([service.name(), "--help"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "`plangen {}` is not a subcommand: {}",
            service.name(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn the_operator_uses_the_services_default_ports() {
    for service in Service::ALL {
        let expected = match service {
            Service::Gateway => plangen_gateway::config::DEFAULT_PORT,
            Service::Auth => plangen_auth::config::DEFAULT_PORT,
            Service::Template => plangen_template::config::DEFAULT_PORT,
            Service::Plan => plangen_plan::config::DEFAULT_PORT,
            // `plangen frontend` takes the seed's frontend port; its help text names it.
            Service::Frontend => {
                let out = Command::new(env!("CARGO_BIN_EXE_plangen"))
                    .args(["frontend", "--help"])
                    .output()
                    .unwrap();
                let help = String::from_utf8_lossy(&out.stdout);
                assert!(help.contains("default 5173"), "{help}");
                5173
            }
        };
        assert_eq!(service.port(), i32::from(expected), "{}", service.name());
    }
}
