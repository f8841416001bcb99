// The page at /docs: Swagger UI over this server's OpenAPI document. The document, like
// every route, asks for a bearer token when the server has any (serve.tokens): the page asks
// for it once and keeps it for the browser tab (sessionStorage), sending it with every request.
(function () {
  "use strict";
  var KEY = "headwater.token";

  function withToken(request) {
    var token = window.sessionStorage.getItem(KEY);
    if (token) {
      request.headers.Authorization = "Bearer " + token;
    }
    return request;
  }

  function askOnUnauthorized(response) {
    if (response.status === 401 && /\/openapi\.json$/.test(response.url)) {
      var token = window.prompt(
        "This server asks for a bearer token: one of serve.tokens in its headwater.yaml"
      );
      if (token) {
        window.sessionStorage.setItem(KEY, token);
        window.location.reload();
      }
    }
    return response;
  }

  window.ui = SwaggerUIBundle({
    url: "openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    requestInterceptor: withToken,
    responseInterceptor: askOnUnauthorized,
  });
})();
