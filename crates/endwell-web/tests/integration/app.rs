//! The app under test: the real router on a random port with a fresh
//! database, and helpers to drive it as a browser or an API client would.

use endwell_core::model::{NewUser, Role};
use endwell_store::Store;
use endwell_store::testing::TestDb;
use endwell_web::{AppState, WebConfig};
use reqwest::StatusCode;
use reqwest::redirect::Policy;

pub const TERMS: &str = include_str!("../../../endwell-core/tests/design-terms.toml");

pub struct TestApp {
    pub base: String,
    pub store: Store,
    db: Option<TestDb>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TestApp {
    pub async fn spawn(backend: &str) -> TestApp {
        let db = TestDb::new(backend).await;
        let store = db.store().await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let state = AppState::new(store.clone(), WebConfig::default());
        tokio::spawn(endwell_web::serve(listener, state, async {
            let _ = rx.await;
        }));
        TestApp {
            base,
            store,
            db: Some(db),
            stop: Some(tx),
        }
    }

    pub async fn finish(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.store.close().await;
        if let Some(db) = self.db.take() {
            db.cleanup().await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn user(
        &self,
        email: &str,
        role: Role,
        supervisor: Option<endwell_core::UserId>,
    ) -> endwell_core::model::User {
        let hash = endwell_web::auth::hash_password("a long enough password").unwrap();
        self.store
            .create_user(
                NewUser {
                    email: email.into(),
                    display_name: email.split('@').next().unwrap().into(),
                    role,
                    profession: "Counsellor".into(),
                    timezone: "Europe/London".into(),
                    supervisor_id: supervisor,
                },
                Some(hash),
            )
            .await
            .unwrap()
    }

    pub fn browser() -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(Policy::none())
            .build()
            .unwrap()
    }

    /// A browser logged in as `email`.
    pub async fn login(&self, email: &str) -> reqwest::Client {
        let b = Self::browser();
        let page = b.get(self.url("/login")).send().await.unwrap().text().await.unwrap();
        let csrf = hidden(&page, "csrf");
        let r = b
            .post(self.url("/login"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("next", "/caseload"),
                ("email", email),
                ("password", "a long enough password"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "login as {email}");
        assert_eq!(r.headers()["location"], "/caseload");
        b
    }

    /// A client "Ada" with one proposed engagement "Work", both `owner`'s.
    pub async fn client_with_engagement(
        &self,
        owner: &endwell_core::model::User,
    ) -> (endwell_core::model::Client, endwell_core::model::Engagement) {
        let v = endwell_core::access::Viewer {
            id: owner.id,
            role: owner.role,
        };
        let fields = endwell_core::model::ClientFields {
            given_name: "Ada".into(),
            ..Default::default()
        };
        let c = self.store.create_client(v, fields).await.unwrap();
        let fields = endwell_core::model::EngagementFields {
            title: "Work".into(),
            ..Default::default()
        };
        let e = self.store.create_engagement(v, c.id, fields).await.unwrap();
        (c, e)
    }

    /// The HTML of a page, as browser `b` sees it.
    pub async fn page(&self, b: &reqwest::Client, path: &str) -> String {
        b.get(self.url(path)).send().await.unwrap().text().await.unwrap()
    }

    /// Submit a form as browser `b` (redirects are not followed).
    pub async fn post_form<T: serde::Serialize + ?Sized>(
        &self,
        b: &reqwest::Client,
        path: &str,
        form: &T,
    ) -> reqwest::Response {
        b.post(self.url(path)).form(form).send().await.unwrap()
    }

    /// Call the API as the holder of `token`, with `body` as JSON when given.
    pub async fn api(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<serde_json::Value>,
    ) -> reqwest::Response {
        let mut r = reqwest::Client::new()
            .request(method, self.url(path))
            .bearer_auth(token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        r.send().await.unwrap()
    }

    /// GET `path` from the API as the holder of `token`, as JSON.
    pub async fn get_json(&self, path: &str, token: &str) -> serde_json::Value {
        self.api(reqwest::Method::GET, path, token, None)
            .await
            .json()
            .await
            .unwrap()
    }

    pub async fn token(&self, user: &endwell_core::model::User) -> String {
        let t = endwell_web::auth::new_token();
        self.store
            .create_api_token(user.id, &endwell_web::auth::token_hash(&t), "test")
            .await
            .unwrap();
        t
    }
}

/// The value of a hidden input in a page.
pub fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let i = page.find(&marker).unwrap_or_else(|| panic!("no {name} in page")) + marker.len();
    page[i..].split('"').next().unwrap().to_string()
}

pub async fn csrf_of(b: &reqwest::Client, url: String) -> String {
    hidden(&b.get(url).send().await.unwrap().text().await.unwrap(), "csrf")
}

pub fn location(r: &reqwest::Response) -> String {
    r.headers()["location"].to_str().unwrap().to_string()
}

#[macro_export]
macro_rules! on_every_backend {
    ($name:ident, |$app:ident : &TestApp| async move $body:block) => {
        #[tokio::test]
        async fn $name() {
            async fn inner($app: &$crate::app::TestApp) $body
            for backend in endwell_store::testing::backends() {
                eprintln!("{} on {backend}", stringify!($name));
                let app = $crate::app::TestApp::spawn(backend).await;
                inner(&app).await;
                app.finish().await;
            }
        }
    };
}
